"""pixelctl vs the AWS CLI v1 deploy flow, side by side against one local AWS.

Run it through `bench/deploy-vs-aws-cli`, which prepares .venv and the AWS CLI.
Progress goes to stderr; the result (a markdown table) to stdout.

Scenarios, each run --runs times (default 5), medians reported:
  update    one parameter changed (lambda.memory_mb alternates 1024/512), the
            artifact already stored; the local AWS applies the stack instantly
  update-async
            the same, with the local AWS applying stacks in the background
            (`resource_delay_ms`, default 100 ms per resource), as CloudFormation
            does: here the AWS CLI's waiters, which poll every 30 s, show
  no-change nothing changed; every AWS call the tool makes counted through the
            local AWS's /_local-aws/requests log (by access key: the deployed
            Lambda's own calls during the health check are not the tool's)
  as-typed  `pixelctl deploy dev --yes --no-frontend` as a user types it, from a
            second checkout of this commit (`git clone --shared`) that shares this
            checkout's cargo target directory: cargo's up-to-date check and the
            Lambda's packaging included. Its first, unmeasured deploy is the
            second checkout's first build (reported); then no-change runs and
            update runs (lambda.memory_mb alternated in the checkout's dev.yaml)
  startup   `pixelctl --help` (hyperfine if installed, else a timing loop)

pixelctl deploys stack `pixel-prompt-dev` from a temporary project directory
(copies of environments/ and templates/, PIXELCTL_PROJECT_DIR) with `--artifact`;
the AWS CLI deploys `pixel-prompt-dev-cli` from `pixelctl render dev`'s
template.yaml and parameters.json. Both use the same zip: the real Lambda
(`--bootstrap`, by default the `lambda` profile's build, made if missing) or,
with `--stub`, a tiny gcc-built Runtime API stub. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
PIXELCTL_STACK = "pixel-prompt-dev"
CLI_STACK = "pixel-prompt-dev-cli"
CLI_BUCKET = "pixel-prompt-dev-cli-artifacts"
MEMORY_VALUES = (1024, 512)  # alternated by the update scenarios; 512 is the default
STEP_TIMEOUT = 600  # seconds; no single command may take longer (the CLI's waiter alone could take an hour)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------- processes


def _die_with_parent() -> None:
    """In the child: get SIGTERM when this script dies, even by SIGKILL (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setsid()


class LocalAws:
    """`tools/local-aws/run --port 0`, stopped (SIGTERM, then SIGKILL) by stop()."""

    def __init__(self, workdir: Path) -> None:
        self.log_path = workdir / "local-aws.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""

    def start(self, timeout: float = 120.0) -> str:
        stderr = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(REPO / "tools" / "local-aws" / "run"), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            cwd=REPO,
        )
        stderr.close()
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buffer = b""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if selector.select(timeout=0.2):
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffer += chunk
                match = re.search(rb"^LOCAL_AWS_ENDPOINT=(\S+)$", buffer, re.M)
                if match:
                    self.endpoint = match.group(1).decode()
                    return self.endpoint
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise BenchError(f"the local AWS did not report its endpoint:\n{tail}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.endpoint}/_local-aws/{path}",
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def clear_requests(self) -> None:
        self.control("requests/clear", {})

    def requests(self) -> list[dict[str, str]]:
        return self.control("requests")["requests"]


def run(cmd: list[str], env: dict[str, str], what: str, cwd: Path | None = None,
        timeout: int = STEP_TIMEOUT) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or REPO,
        )
    except subprocess.TimeoutExpired as err:
        raise BenchError(f"{what}: timed out after {timeout}s: {' '.join(cmd)}") from err
    if done.returncode != 0:
        raise BenchError(
            f"{what}: exit {done.returncode}: {' '.join(cmd)}\n{done.stderr[-3000:]}{done.stdout[-1000:]}"
        )
    return done


# --------------------------------------------------------------------------- the two flows


@dataclass
class Sample:
    seconds: float
    calls: list[str]
    steps: dict[str, float] = field(default_factory=dict)


class Flows:
    def __init__(self, args: argparse.Namespace, workdir: Path, aws: LocalAws, pixelctl: Path) -> None:
        self.aws = aws
        self.pixelctl = pixelctl
        self.workdir = workdir
        self.project = workdir / "project"
        self.cli = str(VENV_BIN / "aws")
        self.env = self._environment(workdir, aws.endpoint)
        self.env_typed: dict[str, str] = {}
        self.dev_yaml_original = ""
        self.artifact: Path | None = None
        self.template = workdir / "render" / "template.yaml"
        self.base_parameters: dict[str, str] = {}
        self.memory = {"pixelctl": MEMORY_VALUES[1], "cli": MEMORY_VALUES[1]}
        self.bootstrap: Path | None = None if args.stub else resolve_bootstrap(args)
        self.checkout = workdir / "checkout"
        self.typed_memory = MEMORY_VALUES[1]
        self.first_typed: dict[str, Any] = {}

    @staticmethod
    def _environment(workdir: Path, endpoint: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "PIXELCTL_"))
        }
        env.update(
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_REGION="us-west-2",
            AWS_DEFAULT_REGION="us-west-2",  # the AWS CLI v1 reads this one
            AWS_ENDPOINT_URL=endpoint,
            # No ~/.aws profile, SSO or credential process may take part.
            AWS_CONFIG_FILE=str(workdir / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-credentials"),
            PIXELCTL_PROJECT_DIR=str(workdir / "project"),
        )
        return env

    # ---- setup (not measured)

    def prepare(self) -> None:
        self.project.mkdir()
        shutil.copytree(REPO / "environments", self.project / "environments")
        shutil.copytree(REPO / "templates", self.project / "templates")
        self.dev_yaml_original = (self.project / "environments" / "dev.yaml").read_text()
        self.set_pixelctl_memory(self.memory["pixelctl"])
        bootstrap_zip = self._tiny_bootstrap_zip() if self.bootstrap is None else self._zip(self.bootstrap)
        run([str(self.pixelctl), "render", "dev", "--out", str(self.workdir / "render")], self.env, "pixelctl render")
        rendered = json.loads((self.workdir / "render" / "parameters.json").read_text())
        self.base_parameters = {item["ParameterKey"]: item["ParameterValue"] for item in rendered}
        if self.base_parameters.get("LambdaMemoryMb") != str(self.memory["pixelctl"]):
            raise BenchError("pixelctl render did not pick up lambda.memory_mb from the temporary dev.yaml")
        # Check the other value renders too, so the update scenarios really change something.
        self.set_pixelctl_memory(MEMORY_VALUES[0])
        run([str(self.pixelctl), "render", "dev", "--out", str(self.workdir / "render-probe")], self.env, "pixelctl render")
        probed = json.loads((self.workdir / "render-probe" / "parameters.json").read_text())
        if {i["ParameterKey"]: i["ParameterValue"] for i in probed}.get("LambdaMemoryMb") != str(MEMORY_VALUES[0]):
            raise BenchError("changing lambda.memory_mb in dev.yaml did not change LambdaMemoryMb")
        self.set_pixelctl_memory(self.memory["pixelctl"])

        # dev's provider keys, as a team stores them once (a deploy refuses without them).
        for provider in ("openai", "gemini"):
            done = subprocess.run(
                [str(self.pixelctl), "secrets", "set", "dev", provider],
                env=self.env, input="sk-bench-dummy-key\n", capture_output=True, text=True,
                timeout=STEP_TIMEOUT, cwd=REPO,
            )
            if done.returncode != 0:
                raise BenchError(f"pixelctl secrets set dev {provider}: exit {done.returncode}\n{done.stderr[-2000:]}")
        log(f"creating stack {PIXELCTL_STACK} with pixelctl (not measured)")
        report = self._pixelctl_deploy(bootstrap_zip, expect={"created"})
        # pixelctl repackages the bootstrap reproducibly; both flows use that exact zip from now on.
        self.artifact = self.project / "target" / "pixelctl" / Path(report["artifact"]["key"]).name
        if not self.artifact.is_file():
            raise BenchError(f"pixelctl's packaged artifact is not at {self.artifact}")
        log(f"artifact {self.artifact.name} ({self.artifact.stat().st_size} bytes), used by both flows")

        log(f"creating stack {CLI_STACK} with the AWS CLI (not measured)")
        run([self.cli, "s3", "mb", f"s3://{CLI_BUCKET}", "--endpoint-url", self.aws.endpoint], self.env, "aws s3 mb")
        self.cli_flow(self.memory["cli"])
        # One unmeasured no-change run each: warm the page cache and both tools' first-run paths.
        self.pixelctl_flow(expect={"no_changes"})
        self.cli_flow(self.memory["cli"])

    def _tiny_bootstrap_zip(self) -> Path:
        """A tiny gcc-built `bootstrap` that serves the Runtime API (tools/runtime_stub.c:
        the deploy's health check passes at once), needs only GLIBC_2.34, zipped."""
        gcc = shutil.which("gcc") or shutil.which("cc")
        if gcc is None:
            raise BenchError("gcc is needed to build the tiny bootstrap (apt-get install gcc)")
        source = REPO / "tools" / "runtime_stub.c"
        binary = self.workdir / "bootstrap"
        run([gcc, "-O2", "-s", "-o", str(binary), str(source)], self.env, "gcc bootstrap")
        return self._zip(binary)

    def _zip(self, binary: Path) -> Path:
        archive = self.workdir / "bootstrap.zip"
        info = zipfile.ZipInfo("bootstrap", (1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o100755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr(info, binary.read_bytes())
        return archive

    def set_pixelctl_memory(self, memory_mb: int) -> None:
        text = re.sub(r"(?m)^  memory_mb:.*\n", "", self.dev_yaml_original)
        if re.search(r"(?m)^lambda:[ \t]*$", text):
            text = re.sub(r"(?m)^lambda:[ \t]*\n", f"lambda:\n  memory_mb: {memory_mb}\n", text, count=1)
        else:
            text += f"\nlambda:\n  memory_mb: {memory_mb}\n"
        (self.project / "environments" / "dev.yaml").write_text(text)

    # ---- pixelctl

    def _pixelctl_deploy(self, artifact: Path, expect: set[str]) -> dict[str, Any]:
        done = run(
            [str(self.pixelctl), "deploy", "dev", "--yes", "--artifact", str(artifact), "--no-env-file", "--output", "json"],
            self.env,
            "pixelctl deploy",
        )
        report = json.loads(done.stdout)
        if report.get("outcome") not in expect:
            raise BenchError(f"pixelctl deploy: outcome {report.get('outcome')!r}, expected {sorted(expect)}")
        return report

    def pixelctl_flow(self, expect: set[str]) -> Sample:
        assert self.artifact is not None
        self.aws.clear_requests()
        started = time.perf_counter()
        report = self._pixelctl_deploy(self.artifact, expect)
        seconds = time.perf_counter() - started
        calls = [f"{c['service']}:{c['operation']}" for c in self.aws.requests() if c.get("caller") == "bench"]
        if report["stack_status"] not in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}:
            raise BenchError(f"pixelctl left {PIXELCTL_STACK} in {report['stack_status']}")
        return Sample(seconds, calls)

    # ---- pixelctl as typed, from a second checkout

    def prepare_checkout(self) -> None:
        """A second checkout of HEAD sharing this checkout's cargo target directory;
        its first deploy (measured once) builds the Lambda there."""
        run(["git", "clone", "--quiet", "--shared", str(REPO), str(self.checkout)], self.env, "git clone --shared")
        target = json.loads(
            run(["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"], {**self.env, "PWD": str(REPO)},
                "cargo metadata", cwd=REPO).stdout
        )["target_directory"]
        self.env_typed = {**self.env, "PIXELCTL_PROJECT_DIR": str(self.checkout), "CARGO_TARGET_DIR": target}
        log(f"second checkout at {self.checkout}, target directory {target}: first deploy (builds the Lambda)")
        started = time.perf_counter()
        # A cold shared target directory means a whole Lambda build: allow an hour.
        report = self._typed_deploy(expect={"updated", "no_changes"}, timeout=3600)
        self.first_typed = {"seconds": time.perf_counter() - started, "artifact": report["artifact"]["key"]}
        log(f"  first deploy from the second checkout: {self.first_typed['seconds']:.1f} s")
        # One unmeasured no-change run: the page cache, as for the other flows.
        self._typed_deploy(expect={"no_changes"})

    def set_typed_memory(self, memory_mb: int) -> None:
        path = self.checkout / "environments" / "dev.yaml"
        original = run(["git", "show", "HEAD:environments/dev.yaml"], self.env, "git show", cwd=self.checkout).stdout
        text = re.sub(r"(?m)^  memory_mb:.*\n", "", original)
        if re.search(r"(?m)^lambda:[ \t]*$", text):
            text = re.sub(r"(?m)^lambda:[ \t]*\n", f"lambda:\n  memory_mb: {memory_mb}\n", text, count=1)
        else:
            text += f"\nlambda:\n  memory_mb: {memory_mb}\n"
        path.write_text(text)

    def _typed_deploy(self, expect: set[str], timeout: int = STEP_TIMEOUT) -> dict[str, Any]:
        done = run([str(self.pixelctl), "deploy", "dev", "--yes", "--no-frontend", "--output", "json"], self.env_typed,
                   "pixelctl deploy (as typed)", cwd=self.checkout, timeout=timeout)
        report = json.loads(done.stdout)
        if report.get("outcome") not in expect:
            raise BenchError(f"pixelctl deploy as typed: outcome {report.get('outcome')!r}, expected {sorted(expect)}")
        return report

    def typed_flow(self, expect: set[str]) -> Sample:
        self.aws.clear_requests()
        started = time.perf_counter()
        self._typed_deploy(expect)
        seconds = time.perf_counter() - started
        return Sample(seconds, [f"{c['service']}:{c['operation']}" for c in self.aws.requests() if c.get("caller") == "bench"])

    # ---- the AWS CLI

    def cli_flow(self, memory_mb: int) -> Sample:
        """`aws s3 cp`, `aws cloudformation deploy`, `aws cloudformation describe-stacks`."""
        assert self.artifact is not None
        key = f"artifacts/{self.artifact.name}"
        parameters = dict(self.base_parameters)
        parameters.update(ArtifactBucket=CLI_BUCKET, ArtifactKey=key, LambdaMemoryMb=str(memory_mb))
        endpoint = ["--endpoint-url", self.aws.endpoint]
        commands = {
            "s3 cp": [self.cli, "s3", "cp", str(self.artifact), f"s3://{CLI_BUCKET}/{key}", "--only-show-errors", *endpoint],
            "cloudformation deploy": [
                self.cli, "cloudformation", "deploy",
                "--template-file", str(self.template),
                "--stack-name", CLI_STACK,
                "--parameter-overrides", *[f"{k}={v}" for k, v in parameters.items()],
                "--capabilities", "CAPABILITY_IAM",
                "--no-fail-on-empty-changeset",
                *endpoint,
            ],
            "describe-stacks": [
                self.cli, "cloudformation", "describe-stacks", "--stack-name", CLI_STACK, "--output", "json", *endpoint,
            ],
        }
        self.aws.clear_requests()
        steps: dict[str, float] = {}
        outputs = ""
        started = time.perf_counter()
        for name, cmd in commands.items():
            step_started = time.perf_counter()
            outputs = run(cmd, self.env, f"aws {name}").stdout
            steps[name] = time.perf_counter() - step_started
        seconds = time.perf_counter() - started
        calls = [f"{c['service']}:{c['operation']}" for c in self.aws.requests() if c.get("caller") == "bench"]
        stack = json.loads(outputs)["Stacks"][0]
        deployed = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        if stack["StackStatus"] not in {"CREATE_COMPLETE", "UPDATE_COMPLETE"} or deployed.get("LambdaMemoryMb") != str(memory_mb):
            raise BenchError(f"the AWS CLI flow left {CLI_STACK} in {stack['StackStatus']} with LambdaMemoryMb={deployed.get('LambdaMemoryMb')}")
        if not stack.get("Outputs"):
            raise BenchError(f"describe-stacks returned no outputs for {CLI_STACK}")
        return Sample(seconds, calls, steps)


# --------------------------------------------------------------------------- scenarios


def operation_name(call: str) -> str:
    """A readable operation name. The local AWS logs REST calls (S3, CloudFront)
    as `service:METHOD /path`: `s3:PUT /bucket/key` -> `s3 PutObject`."""
    service, operation = call.split(":", 1)
    if " " not in operation:
        return operation
    method, path = operation.split(" ", 1)
    if service == "cloudfront" and method == "GET" and "/distribution/" in path:
        return "cloudfront GetDistribution"
    if service == "s3":
        has_key = len(path.strip("/").split("/", 1)) > 1
        names = {
            ("HEAD", True): "HeadObject", ("HEAD", False): "HeadBucket",
            ("PUT", True): "PutObject", ("PUT", False): "PutBucket*",
            ("GET", True): "GetObject", ("GET", False): "ListObjects",
        }
        return "s3 " + names.get((method, has_key), method)
    return f"{service} {method}"


def update_scenario(flows: Flows, runs: int) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {"pixelctl": [], "cli": []}
    for i in range(runs):
        # Alternate which flow goes first, so neither always runs on a just-busied server.
        order = ("pixelctl", "cli") if i % 2 == 0 else ("cli", "pixelctl")
        for flow in order:
            memory = MEMORY_VALUES[0] if flows.memory[flow] == MEMORY_VALUES[1] else MEMORY_VALUES[1]
            if flow == "pixelctl":
                flows.set_pixelctl_memory(memory)
                sample = flows.pixelctl_flow(expect={"updated"})
            else:
                sample = flows.cli_flow(memory)
            flows.memory[flow] = memory
            samples[flow].append(sample)
            log(f"  run {i + 1}/{runs} {flow:8} {sample.seconds:7.3f} s  {len(sample.calls)} AWS calls  (LambdaMemoryMb={memory})")
    return samples


def no_change_scenario(flows: Flows, runs: int) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {"pixelctl": [], "cli": []}
    for i in range(runs):
        order = ("pixelctl", "cli") if i % 2 == 0 else ("cli", "pixelctl")
        for flow in order:
            if flow == "pixelctl":
                sample = flows.pixelctl_flow(expect={"no_changes"})
            else:
                sample = flows.cli_flow(flows.memory["cli"])
            samples[flow].append(sample)
            log(f"  run {i + 1}/{runs} {flow:8} {sample.seconds:7.3f} s  {len(sample.calls)} AWS calls")
    return samples


def typed_scenario(flows: Flows, runs: int) -> dict[str, dict[str, list[Sample]]]:
    """No-change and update deploys as typed, each beside the AWS CLI flow."""
    out: dict[str, dict[str, list[Sample]]] = {}
    for kind in ("no_change", "update"):
        samples: dict[str, list[Sample]] = {"pixelctl": [], "cli": []}
        for i in range(runs):
            order = ("pixelctl", "cli") if i % 2 == 0 else ("cli", "pixelctl")
            for flow in order:
                if flow == "pixelctl":
                    if kind == "update":
                        flows.typed_memory = MEMORY_VALUES[0] if flows.typed_memory == MEMORY_VALUES[1] else MEMORY_VALUES[1]
                        flows.set_typed_memory(flows.typed_memory)
                        sample = flows.typed_flow(expect={"updated"})
                    else:
                        sample = flows.typed_flow(expect={"no_changes"})
                else:
                    if kind == "update":
                        flows.memory["cli"] = MEMORY_VALUES[0] if flows.memory["cli"] == MEMORY_VALUES[1] else MEMORY_VALUES[1]
                    sample = flows.cli_flow(flows.memory["cli"])
                samples[flow].append(sample)
                log(f"  {kind} run {i + 1}/{runs} {flow:8} {sample.seconds:7.3f} s  {len(sample.calls)} AWS calls")
        out[kind] = samples
    return out


def startup_scenario(pixelctl: Path, runs: int, workdir: Path) -> dict[str, Any]:
    """Median wall time of `pixelctl --help` (and, for scale, `aws --version`), in ms."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIXELCTL_"))}
    results: dict[str, Any] = {}
    cases = {"pixelctl": ([str(pixelctl), "--help"], runs), "aws": ([str(VENV_BIN / "aws"), "--version"], max(10, runs // 10))}
    hyperfine = shutil.which("hyperfine")
    for name, (cmd, count) in cases.items():
        if hyperfine:
            export = workdir / f"hyperfine-{name}.json"
            subprocess.run(
                [hyperfine, "--style", "none", "-N", "--warmup", "10", "--runs", str(count), "--export-json", str(export), " ".join(cmd)],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=STEP_TIMEOUT,
            )
            result = json.loads(export.read_text())["results"][0]
            times = result["times"]
            results[name] = {"tool": "hyperfine", "runs": len(times), "median_ms": statistics.median(times) * 1000,
                             "min_ms": min(times) * 1000, "max_ms": max(times) * 1000, "command": " ".join(cmd)}
        else:
            times = []
            for _ in range(10):
                subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=60)
            for _ in range(count):
                started = time.perf_counter()
                subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=60)
                times.append(time.perf_counter() - started)
            results[name] = {"tool": "timing loop (subprocess.run)", "runs": len(times), "median_ms": statistics.median(times) * 1000,
                             "min_ms": min(times) * 1000, "max_ms": max(times) * 1000, "command": " ".join(cmd)}
        log(f"  {results[name]['command']}: median {results[name]['median_ms']:.2f} ms over {results[name]['runs']} runs ({results[name]['tool']})")
    return results


# --------------------------------------------------------------------------- reporting


def median(samples: list[Sample]) -> float:
    return statistics.median(s.seconds for s in samples)


def spread(samples: list[Sample]) -> str:
    values = [s.seconds for s in samples]
    return f"{min(values):.2f}–{max(values):.2f}"


def typical_calls(samples: list[Sample]) -> list[str]:
    """The call list of the run with the median number of calls."""
    ordered = sorted(samples, key=lambda s: len(s.calls))
    return [operation_name(c) for c in ordered[len(ordered) // 2].calls]


def summarize_calls(calls: list[str]) -> str:
    counts: dict[str, int] = {}
    for name in calls:
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{name}" + (f" ×{n}" if n > 1 else "") for name, n in counts.items())


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def render_report(results: dict[str, Any]) -> str:
    lines: list[str] = []
    meta = results["meta"]
    lines.append(f"pixelctl binary: `{meta['pixelctl_binary']}` ({meta['pixelctl_version']}, {meta['pixelctl_profile']} build)  ")
    lines.append(f"commit {meta['commit']}; {meta['awscli']}; moto {meta['moto']}  ")
    lines.append(f"machine: {meta['nproc']} CPUs, {meta['cpu_model']}, {meta['platform']}  ")
    lines.append(f"load average (1 min) at start {meta['loadavg_start']}, at end {meta.get('loadavg_end', '?')}  ")
    lines.append(f"runs per scenario: {meta['runs']} (medians; range in brackets)  ")
    lines.append(f"deployed Lambda: {meta['bootstrap']}")
    if "second_checkout_first_deploy_s" in meta:
        lines.append(f"  \nfirst deploy from a second checkout sharing the target directory (builds the Lambda): "
                     f"{meta['second_checkout_first_deploy_s']:.1f} s")
    lines.append("")
    lines.append("| scenario | pixelctl | AWS CLI flow | ratio | target | met |")
    lines.append("| --- | ---: | ---: | ---: | --- | --- |")
    for key, title in (
        ("update", "update deploy, one parameter changed (local AWS applies at once)"),
        ("update_async", f"update deploy, one parameter changed (local AWS applies in the background, {meta['async_delay_ms']} ms per resource)"),
        ("no_change", "no-change deploy, `--artifact`"),
        ("typed_no_change", "no-change deploy as typed (`pixelctl deploy dev --yes --no-frontend`, cargo included)"),
        ("typed_update", "update deploy as typed, one parameter changed"),
    ):
        if key not in results:
            continue
        scenario = results[key]
        p, c = scenario["pixelctl"], scenario["cli"]
        ratio = p["median_s"] / c["median_s"]
        target = {"no_change": 0.1, "typed_no_change": 0.2}.get(key, 0.3)
        lines.append(
            f"| {title} | {p['median_s']:.3f} s ({p['range_s']}) | {c['median_s']:.3f} s ({c['range_s']}) | "
            f"{ratio:.2f}x | ≤ {target}x | {verdict(ratio <= target)} |"
        )
    if "no_change" in results:
        p, c = results["no_change"]["pixelctl"], results["no_change"]["cli"]
        lines.append(
            f"| CloudFormation calls, no-change deploy | {p['stack_calls']} | {c['stack_calls']} | | ≤ 2 | {verdict(p['stack_calls'] <= 2)} |"
        )
        lines.append(
            f"| AWS calls, no-change deploy (all: keys, model check, stack, the functions' code) | {p['calls']} | {c['calls']} | | | |"
        )
    if "update" in results:
        p, c = results["update"]["pixelctl"], results["update"]["cli"]
        lines.append(f"| AWS calls, update deploy | {p['calls']} | {c['calls']} | | | |")
    if "startup" in results:
        s = results["startup"]
        lines.append(
            f"| `pixelctl --help` startup ({s['pixelctl']['runs']} runs, {s['pixelctl']['tool']}) | {s['pixelctl']['median_ms']:.2f} ms | "
            f"{s['aws']['median_ms']:.0f} ms (`aws --version`) | | < 10 ms | {verdict(s['pixelctl']['median_ms'] < 10)} |"
        )
    lines.append("")
    calls_rows = [(k, t) for k, t in (("no_change", "no-change"), ("update", "update"),
                                       ("typed_no_change", "no-change as typed")) if k in results]
    if calls_rows:
        lines.append("AWS calls of a typical run:")
        lines.append("")
        for key, title in calls_rows:
            for flow, name in (("pixelctl", "pixelctl"), ("cli", "AWS CLI")):
                lines.append(f"- {title}, {name}: {results[key][flow]['calls_list']}")
        lines.append("")
    step_rows = [k for k in ("update", "update_async", "no_change") if k in results]
    if step_rows:
        lines.append("AWS CLI flow by step (medians):")
        lines.append("")
        lines.append("| scenario | s3 cp | cloudformation deploy | describe-stacks |")
        lines.append("| --- | ---: | ---: | ---: |")
        for key in step_rows:
            steps = results[key]["cli"]["steps_median_s"]
            lines.append(
                f"| {key.replace('_', '-')} | {steps['s3 cp']:.3f} s | {steps['cloudformation deploy']:.3f} s | {steps['describe-stacks']:.3f} s |"
            )
    return "\n".join(lines) + "\n"


def summarize(samples: dict[str, list[Sample]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for flow, items in samples.items():
        calls = typical_calls(items)
        out[flow] = {
            "median_s": median(items),
            "range_s": spread(items),
            "seconds": [s.seconds for s in items],
            "calls": len(calls),
            # The provider-key check before a deploy (SSM, Secrets Manager): reads, no stack call.
            "key_checks": sum(1 for name in calls if name in ("DescribeParameters", "DescribeSecret")),
            # CloudFormation calls alone (the stack's reads and writes).
            "stack_calls": sorted(sum(1 for c in s.calls if c.startswith("cloudformation:")) for s in items)[len(items) // 2],
            "calls_list": summarize_calls(calls),
            "calls_per_run": [len(s.calls) for s in items],
        }
        if items and items[0].steps:
            out[flow]["steps_median_s"] = {
                step: statistics.median(s.steps[step] for s in items) for step in items[0].steps
            }
    return out


# --------------------------------------------------------------------------- main


def resolve_pixelctl(args: argparse.Namespace) -> tuple[Path, str]:
    if args.pixelctl:
        path = Path(args.pixelctl).resolve()
        if not path.is_file():
            raise BenchError(f"--pixelctl {args.pixelctl}: no such file")
        return path, "release" if "/release/" in str(path) else ("debug" if "/debug/" in str(path) else "given")
    if args.debug:
        log("building the debug pixelctl (cargo build -p pixelctl)")
        subprocess.run(["cargo", "build", "--locked", "--quiet", "-p", "pixelctl"], cwd=REPO, check=True, stdin=subprocess.DEVNULL)
        return REPO / "target" / "debug" / "pixelctl", "debug"
    release = REPO / "target" / "release" / "pixelctl"
    if not release.is_file():
        log("target/release/pixelctl is missing: building it (cargo build --release -p pixelctl, ~15-20 min from clean on 2 cores)")
        subprocess.run(["cargo", "build", "--locked", "--release", "-p", "pixelctl"], cwd=REPO, check=True, stdin=subprocess.DEVNULL)
    return release, "release"


def resolve_bootstrap(args: argparse.Namespace) -> Path:
    """The real Lambda binary: --bootstrap, or the `lambda` profile's build (made if missing)."""
    if args.bootstrap:
        if not args.bootstrap.is_file():
            raise BenchError(f"--bootstrap {args.bootstrap}: no such file")
        return args.bootstrap.resolve()
    target = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"], cwd=REPO, check=True,
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    ).stdout)["target_directory"]
    binary = Path(target) / "x86_64-unknown-linux-gnu" / "lambda" / "bootstrap"
    if not binary.is_file():
        log("the Lambda's `lambda` build is missing: building it (~7 min from clean on 2 cores)")
        subprocess.run(["cargo", "build", "--locked", "--profile", "lambda", "-p", "pixel-prompt-api", "--bin", "bootstrap",
                        "--target", "x86_64-unknown-linux-gnu"], cwd=REPO, check=True, stdin=subprocess.DEVNULL)
    return binary


def describe_bootstrap(binary: Path) -> str:
    data = binary.read_bytes()
    return f"`{binary}` ({len(data):,} B, {len(zlib.compress(data, 9)):,} B deflated)"


def loadavg() -> str:
    """The 1-minute load average: other work on the machine skews every number."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def metadata(args: argparse.Namespace, pixelctl: Path, profile: str) -> dict[str, Any]:
    def out(cmd: list[str]) -> str:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, stdin=subprocess.DEVNULL)
        return (done.stdout or done.stderr).strip()

    commit = out(["git", "rev-parse", "--short=12", "HEAD"])
    dirty = out(["git", "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"])
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    # `aws-cli/1.46.3 Python/3.11.7 Linux/... botocore/1.43.62`
    words = out([str(VENV_BIN / "aws"), "--version"]).split()
    awscli = " ".join(w for w in words if w.startswith(("aws-cli/", "botocore/")))
    built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(pixelctl.stat().st_mtime))
    return {
        "pixelctl_binary": str(pixelctl.relative_to(REPO)) if pixelctl.is_relative_to(REPO) else str(pixelctl),
        "pixelctl_version": out([str(pixelctl), "--version"]),
        "pixelctl_profile": profile,
        "pixelctl_built": built,
        "commit": args.commit or (commit + (" (src/ has uncommitted changes)" if dirty else "")),
        "awscli": awscli,
        "moto": out([str(VENV_BIN / "python"), "-c", "import moto; print(moto.__version__)"]),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "platform": f"{platform.system()} {platform.release()}",
        "loadavg_start": loadavg(),
        "runs": args.runs,
        "async_delay_ms": args.async_delay_ms,
        "bootstrap": "a tiny gcc-built Runtime API stub (--stub)" if args.stub else describe_bootstrap(resolve_bootstrap(args)),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/deploy-vs-aws-cli",
        description="pixelctl vs the AWS CLI v1 deploy flow against one local AWS; prints medians and ratios.",
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per deploy scenario (default 5)")
    parser.add_argument("--startup-runs", type=int, default=300, help="runs of `pixelctl --help` (default 300)")
    parser.add_argument("--async-delay-ms", type=int, default=100,
                        help="resource_delay_ms of the update-async scenario (default 100; 0 skips it)")
    parser.add_argument("--pixelctl", help="the pixelctl binary to measure (default target/release/pixelctl, built if missing)")
    parser.add_argument("--debug", action="store_true", help="measure target/debug/pixelctl (built incrementally) instead")
    parser.add_argument("--commit", help="the commit the measured binary was built from, for the report "
                        "(default: this checkout's HEAD, flagged when src/ has uncommitted changes)")
    parser.add_argument("--bootstrap", type=Path, help="the Lambda binary both flows deploy (default: the `lambda` "
                        "profile's build in cargo's target directory, built if missing)")
    parser.add_argument("--stub", action="store_true", help="deploy a tiny gcc-built Runtime API stub instead of the real Lambda")
    parser.add_argument("--no-as-typed", action="store_true", help="skip the as-typed scenario (second checkout, cargo build)")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 100 or not 1 <= args.startup_runs <= 10000:
        parser.error("--runs must be 1-100 and --startup-runs 1-10000")

    # SIGTERM/SIGHUP end the run through the finally blocks below, like Ctrl-C does.
    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)

    pixelctl, profile = resolve_pixelctl(args)
    workdir = Path(tempfile.mkdtemp(prefix="pixelctl-bench-"))
    aws = LocalAws(workdir)
    results: dict[str, Any] = {"meta": metadata(args, pixelctl, profile)}
    try:
        log(f"measuring {results['meta']['pixelctl_binary']} ({profile}); work directory {workdir}")
        endpoint = aws.start()
        log(f"local AWS at {endpoint}")
        aws.control("config", {"cloudfront_deploy_seconds": 0, "resource_delay_ms": 0})
        flows = Flows(args, workdir, aws, pixelctl)
        flows.prepare()

        log(f"scenario update: {args.runs} runs per flow, the local AWS applies at once")
        results["update"] = summarize(update_scenario(flows, args.runs))
        log(f"scenario no-change: {args.runs} runs per flow")
        results["no_change"] = summarize(no_change_scenario(flows, args.runs))
        if args.async_delay_ms > 0:
            log(f"scenario update-async: {args.runs} runs per flow, resource_delay_ms={args.async_delay_ms}")
            aws.control("config", {"resource_delay_ms": args.async_delay_ms})
            try:
                results["update_async"] = summarize(update_scenario(flows, args.runs))
            finally:
                aws.control("config", {"resource_delay_ms": 0})
        if not args.no_as_typed:
            log(f"scenario as-typed: {args.runs} no-change and {args.runs} update runs per flow")
            flows.prepare_checkout()
            typed = typed_scenario(flows, args.runs)
            results["typed_no_change"] = summarize(typed["no_change"])
            results["typed_update"] = summarize(typed["update"])
            results["meta"]["second_checkout_first_deploy_s"] = flows.first_typed["seconds"]
        log(f"scenario startup: {args.startup_runs} runs of pixelctl --help")
        results["startup"] = startup_scenario(pixelctl, args.startup_runs, workdir)
    except BenchError as err:
        print(f"bench: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        aws.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    results["meta"]["loadavg_end"] = loadavg()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        log(f"wrote {args.json}")
    sys.stdout.write(render_report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
