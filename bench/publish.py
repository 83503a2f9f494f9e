"""How long `pixelctl publish` takes against the local AWS, unchanged and with one changed chunk.

Run it through `bench/publish`, which prepares .venv and builds pixelctl.
Progress goes to stderr; the result (markdown) to stdout.

A temporary project (copies of environments/, templates/ and frontend/'s
sources, frontend/node_modules linked to the repository's) is deployed once to a
local AWS started here on 127.0.0.1 (a gcc-built stub bootstrap, web app
published), then, --runs times each, taking turns:

  unchanged  `pixelctl publish dev --output json` with nothing changed: npm run
             build gives the same files, nothing is uploaded or invalidated
  changed    the same after one line of frontend/src/main.tsx changed: the JS
             chunk gets a new name, so the chunk and index.html are uploaded
             (index.html last), `/` and `/index.html` invalidated and waited for,
             and the page recorded as a new release
  rollback   then, --runs times, `pixelctl rollback dev --yes --output json`:
             the stack is unchanged (two reads), the previous page's index.html
             is published again from the artifact store, one invalidation

Each run reports the command's wall time, the build's share (npm run build)
and the publish's (listing the site, storing the fixed-name files for
rollbacks, uploading, invalidating and waiting), and the AWS calls pixelctl
made; every run is checked (what was uploaded, what the distribution serves).
The bundle's size (JS+CSS, gzip -9) is reported too. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
STEP_TIMEOUT = 300


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


def run(cmd: list[str], env: dict[str, str], cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired as err:
        raise BenchError(f"{what}: timed out after {STEP_TIMEOUT}s") from err
    if done.returncode != 0:
        raise BenchError(f"{what}: exit {done.returncode}: {' '.join(cmd)}\n{done.stderr[-3000:]}")
    return done


class LocalAws:
    """The local AWS on a free port, stopped with SIGTERM by stop()."""

    def __init__(self, workdir: Path) -> None:
        self.log = open(workdir / "local-aws.log", "wb")
        self.process = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "python"), str(REPO / "tools" / "local-aws" / "local_aws.py"), "--port", "0"],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if not line.startswith("LOCAL_AWS_ENDPOINT="):
            raise BenchError(f"the local AWS did not start: {line!r}")
        self.endpoint = line.strip().split("=", 1)[1]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        self.log.close()

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.endpoint}/_local-aws/{path}", data=data, method="GET" if body is None else "POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def calls(self) -> list[str]:
        return [call["operation"] for call in self.control("requests")["requests"] if call.get("caller") == "bench"]

    def fetch(self, host: str, path: str) -> bytes:
        """GET through a distribution's local host name (sent as `Host`, connected to 127.0.0.1)."""
        port = self.endpoint.rsplit(":", 1)[1]
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": f"{host}:{port}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()


def copy_project(workdir: Path) -> Path:
    project = workdir / "project"
    for folder in ("environments", "templates"):
        shutil.copytree(REPO / folder, project / folder)
    shutil.copytree(REPO / "frontend", project / "frontend",
                    ignore=shutil.ignore_patterns("node_modules", "dist", ".env", "artifacts"))
    os.symlink(REPO / "frontend" / "node_modules", project / "frontend" / "node_modules")
    return project


def stub_bootstrap(workdir: Path) -> Path:
    """The stub Lambda runtime (tools/runtime_stub.c, as the tests build it): it
    answers every event 200, so deploys and rollbacks pass their health check."""
    binary = workdir / "bootstrap"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(REPO / "tools" / "runtime_stub.c")], check=True)
    return binary


def bundle_size(dist: Path) -> tuple[int, int]:
    """(raw, gzip -9) bytes of the JS and CSS the page loads."""
    files = [p for p in (dist / "assets").iterdir() if p.suffix in (".js", ".css")]
    raw = sum(p.stat().st_size for p in files)
    packed = sum(len(gzip.compress(p.read_bytes(), compresslevel=9)) for p in files)
    return raw, packed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per scenario (default 5)")
    parser.add_argument("--pixelctl", type=Path, default=REPO / "target" / "debug" / "pixelctl")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="pixelctl-bench-publish-"))
    aws = LocalAws(workdir)
    try:
        return measure(args, workdir, aws)
    except BenchError as err:
        print(f"bench: error: {err}", file=sys.stderr)
        return 1
    finally:
        aws.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def measure(args: argparse.Namespace, workdir: Path, aws: LocalAws) -> int:
    project = copy_project(workdir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIXELCTL_", "VITE_"))}
    env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true",
               AWS_ENDPOINT_URL=aws.endpoint, NO_COLOR="1", PIXELCTL_PROJECT_DIR=str(project))
    pixelctl = str(args.pixelctl)
    log(f"local AWS at {aws.endpoint}; deploying dev (unmeasured) from {project}")
    deployed = json.loads(run([pixelctl, "deploy", "dev", "--yes", "--no-env-file", "--require-healthy", "--output", "json",
                               "--artifact", str(stub_bootstrap(workdir))], env, project, "the first deploy").stdout)
    host = re.sub(r"^http://([^:/]+).*", r"\1", deployed["frontend"]["url"])
    main_tsx = project / "frontend" / "src" / "main.tsx"
    original = main_tsx.read_text()

    samples: dict[str, list[dict[str, Any]]] = {"unchanged": [], "changed": [], "rollback": []}
    for run_number in range(args.runs):
        order = ("unchanged", "changed") if run_number % 2 == 0 else ("changed", "unchanged")
        for scenario in order:
            if scenario == "changed":
                main_tsx.write_text(original + f"\nconsole.info('bench {run_number}');\n")
            aws.control("requests/clear", {})
            started = time.monotonic()
            done = run([pixelctl, "publish", "dev", "--output", "json"], env, project, f"publish ({scenario})")
            wall = time.monotonic() - started
            report = json.loads(done.stdout)
            calls = aws.calls()
            uploaded = report["uploaded"]
            if scenario == "unchanged" and uploaded:
                raise BenchError(f"an unchanged publish uploaded {uploaded}")
            if scenario == "changed":
                if len(uploaded) != 2 or uploaded[-1] != "index.html" or not uploaded[0].endswith(".js"):
                    raise BenchError(f"a changed chunk uploaded {uploaded}")
                if uploaded[0].encode() not in aws.fetch(host, "/"):
                    raise BenchError("the distribution does not serve the new page")
            samples[scenario].append({
                "wall": wall, "build": report.get("build_seconds") or 0.0, "publish": report["duration_seconds"],
                "uploaded": len(uploaded), "calls": len(calls), "operations": calls,
            })
            log(f"run {run_number + 1} {scenario}: {wall:.2f}s (build {samples[scenario][-1]['build']:.2f}s, "
                f"publish {report['duration_seconds']:.3f}s), {len(uploaded)} uploaded, {len(calls)} AWS calls")

    for run_number in range(args.runs):
        before = aws.fetch(host, "/")
        aws.control("requests/clear", {})
        started = time.monotonic()
        done = run([pixelctl, "rollback", "dev", "--yes", "--require-healthy", "--output", "json"], env, project, "rollback")
        wall = time.monotonic() - started
        report = json.loads(done.stdout)
        web = report.get("frontend") or {}
        if web.get("uploaded") != ["index.html"] or aws.fetch(host, "/") == before:
            raise BenchError(f"a rollback did not bring the previous page back: {web}")
        calls = aws.calls()
        samples["rollback"].append({"wall": wall, "build": 0.0, "publish": web["duration_seconds"],
                                    "uploaded": len(web["uploaded"]), "calls": len(calls), "operations": calls})
        log(f"rollback {run_number + 1}: {wall:.2f}s (page {web['duration_seconds']:.3f}s), {len(calls)} AWS calls")

    raw, packed = bundle_size(project / "target" / "pixelctl" / "site" / "dev")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(samples, indent=2))

    def median(scenario: str, key: str) -> float:
        return statistics.median(sample[key] for sample in samples[scenario])

    def spread(scenario: str, key: str) -> str:
        values = [sample[key] for sample in samples[scenario]]
        return f"{min(values):.2f}-{max(values):.2f}"

    version = run([pixelctl, "--version"], env, project, "pixelctl --version").stdout.strip()
    print(f"`bench/publish --runs {args.runs}`: {version} ({args.pixelctl}), {os.cpu_count()} CPUs, "
          f"local AWS (moto) on 127.0.0.1, medians of {args.runs} runs (range)\n")
    print("| publish | wall time | of which npm run build | of which publishing | files uploaded | AWS calls | target | met |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for scenario, label in (("unchanged", "unchanged `dist/`"), ("changed", "one changed chunk"), ("rollback", "rollback (the page only)")):
        target = "< 2 s" if scenario == "changed" else ""
        met = "" if not target else ("yes" if median(scenario, "wall") < 2.0 else f"no (publishing alone: {'yes' if median(scenario, 'publish') < 2.0 else 'no'})")
        print(f"| {label} | {median(scenario, 'wall'):.2f} s ({spread(scenario, 'wall')}) | {median(scenario, 'build'):.2f} s "
              f"| {median(scenario, 'publish'):.3f} s ({spread(scenario, 'publish')}) | {median(scenario, 'uploaded'):.0f} "
              f"| {median(scenario, 'calls'):.0f} | {target} | {met} |")
    changed_ops = samples["changed"][-1]["operations"]
    print(f"\nAWS calls of the last changed-chunk publish, in order: {', '.join(changed_ops)}")
    print(f"\nAWS calls of the last rollback, in order: {', '.join(samples['rollback'][-1]['operations'])}")
    print(f"\nBundle (the JS and CSS the page loads): {raw / 1024:.1f} KiB, {packed / 1024:.1f} KiB gzip -9")
    return 0


if __name__ == "__main__":
    sys.exit(main())
