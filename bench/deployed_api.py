"""The deployed stack on the local AWS: cold starts, warm latency and the 100-user load run.

Run it through `bench/deployed-api`, which prepares .venv. Progress goes to
stderr; the result (markdown tables) to stdout.

pixelctl deploys the real Lambda (the size-tuned release build `pixelctl build`
makes) to ONE local AWS started here on a free port with `--fake-providers`, from a
temporary copy of the project whose `environments/dev.yaml` is the bench
environment: dev plus 127.0.0.1 on the rate-limit allowlist, a reserved
concurrency of two per simulated user, and API throttling at AWS's account
defaults. Then, through the local API Gateway:

  cold   N cold starts (a harmless environment variable changed with
         UpdateFunctionConfiguration before each, so the next invoke starts a new
         instance): `Init Duration` from the REPORT line in the function's log
         group, and the latency of that first `GET /health`
  warm   M sequential `GET /health` and `GET /gallery/list` (a full page of 20
         galleries, generated first) on one kept-alive connection
  load   lambda/examples/load.rs with `--target <the deployed API>`: U users each
         POST /generate, then GET /status/{jobId} every P ms until done

CPU time of the local AWS (Python: gateway, Runtime API, moto, fake providers),
of the bootstrap processes and of the load generator is read from /proc around
the load run. The local AWS is stopped however this script ends, and every
process it started is checked to be gone. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import http.client
import json
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = REPO / ".venv" / "bin" / "python"
LAMBDA_BOOTSTRAP = REPO / "target" / "x86_64-unknown-linux-gnu" / "lambda" / "bootstrap"
LOAD_BIN = REPO / "target" / "release" / "examples" / "load"
LOAD_SOURCE = REPO / "lambda" / "examples" / "load.rs"
ENV = "dev"  # the template's EnvironmentName and the API's ENVIRONMENT accept only dev, staging and prod
REGION = "us-west-2"
PROVIDER_KEYS = ("openai-api-key", "google-api-key", "recraft-api-key", "stability-api-key")
GALLERY_PAGE = 20  # GET /gallery/list's default page size
STEP_TIMEOUT = 600  # seconds; no command may take longer
REPORT_INIT = re.compile(r"^REPORT RequestId: \S+\t.*\tInit Duration: ([0-9.]+) ms", re.M)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a live process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def run(cmd: list[str], env: dict[str, str] | None, what: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=STEP_TIMEOUT, cwd=cwd)
    except subprocess.TimeoutExpired as err:
        raise BenchError(f"{what}: timed out after {STEP_TIMEOUT}s: {' '.join(cmd)}") from err
    if done.returncode != 0:
        raise BenchError(f"{what}: exit {done.returncode}: {' '.join(cmd)}\n{done.stderr[-3000:]}{done.stdout[-2000:]}")
    return done


def build(cmd: list[str], what: str) -> None:
    """A cargo build, its progress on our stderr (cargo waits on the build lock itself)."""
    log(f"{what}: {' '.join(cmd)}")
    done = subprocess.run(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=sys.stderr, timeout=3600)
    if done.returncode != 0:
        raise BenchError(f"{what} failed (exit {done.returncode})")


class LocalAws:
    """`local_aws.py --port 0 --fake-providers`, stopped (SIGTERM, then SIGKILL) by stop()."""

    def __init__(self, workdir: Path) -> None:
        self.log_path = workdir / "local-aws.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""
        self.port = 0
        self.temp_dir: Path | None = None  # where it extracts zips and runs them; removed by a clean stop

    def start(self, timeout: float = 120.0) -> None:
        stderr = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(PYTHON), str(REPO / "tools" / "local-aws" / "local_aws.py"), "--port", "0", "--fake-providers"],
            stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, cwd=REPO,
        )
        stderr.close()
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buffer = b""
        while time.monotonic() < deadline and self.process.poll() is None:
            if selector.select(timeout=0.2):
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffer += chunk
                endpoint = re.search(rb"^LOCAL_AWS_ENDPOINT=(\S+)$", buffer, re.M)
                if endpoint and re.search(rb"^FAKE_PROVIDERS=", buffer, re.M):
                    self.endpoint = endpoint.group(1).decode()
                    self.port = urllib.parse.urlsplit(self.endpoint).port or 0
                    return
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise BenchError(f"the local AWS did not report its endpoint and fake providers:\n{tail}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        started = time.monotonic()
        if process.poll() is None:
            try:
                # A clean stop kills and reaps every instance: with a hundred of them on a busy
                # machine that takes a while.
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                log("the local AWS did not stop within 60 s of SIGTERM: SIGKILL")
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)
        # Instances run in their own sessions and die with the launcher (PR_SET_PDEATHSIG): wait for that.
        deadline = time.monotonic() + 10
        while (left := self.live_instances()) and time.monotonic() < deadline:
            time.sleep(0.1)
        if left:
            raise BenchError(f"processes outlived the local AWS: {sorted(left)}")
        if self.temp_dir is not None and self.temp_dir.exists():
            log(f"removing {self.temp_dir}, which the local AWS left")
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        log(f"local AWS stopped in {time.monotonic() - started:.1f} s; no process of it is left")

    def live_instances(self) -> set[int]:
        """Processes (not zombies) running a program from the local AWS's temporary directory."""
        if self.temp_dir is None:
            return set()
        prefix = str(self.temp_dir).encode() + b"/"
        alive: set[int] = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if cmdline.startswith(prefix) and state != "Z":
                alive.add(int(entry.name))
        return alive

    # ---- HTTP to the local AWS (one short connection per call)

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
             expect: int = 200) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if response.status != expect:
            raise BenchError(f"{method} {path}: {response.status} {data[:500]!r}")
        return json.loads(data) if data else None

    def aws(self, service: str, method: str, path: str, body: dict[str, Any] | None = None,
            target: str | None = None) -> Any:
        """An AWS API call with dummy credentials (the local AWS checks no signature)."""
        headers = {
            "Authorization": f"AWS4-HMAC-SHA256 Credential=bench/20260101/{REGION}/{service}/aws4_request, "
                             "SignedHeaders=host, Signature=0",
            "Content-Type": "application/x-amz-json-1.1" if target else "application/json",
        }
        if target:
            headers["X-Amz-Target"] = target
        data = None if body is None else json.dumps(body).encode()
        return self.call(method, path, data, headers)

    def instances(self, function: str) -> list[dict[str, Any]]:
        described = self.call("GET", "/_local-aws/lambda")
        if described.get("temp_dir"):
            self.temp_dir = Path(described["temp_dir"])
        return [i for i in described["instances"] if i["function"] == function]


class Api:
    """The deployed HTTP API through the local API Gateway, on one kept-alive connection.

    Connects to 127.0.0.1 and sends the API's own `Host` (`{apiId}.execute-api.localhost:{port}`),
    which is what resolving `*.localhost` to loopback does."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not (parts.hostname or "").endswith(".execute-api.localhost"):
            raise BenchError(f"not a local API Gateway URL: {url}")
        self.host = parts.netloc
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes, float]:
        """(status, body, seconds from sending to the last byte read)."""
        headers = {"Host": self.host}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        while True:
            reused = self.connection is not None
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.connection.connect()
            try:
                started = time.perf_counter()
                self.connection.request(method, self.prefix + path, body=data, headers=headers)
                response = self.connection.getresponse()
                payload = response.read()
                seconds = time.perf_counter() - started
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if reused:  # the server closed the kept-alive connection: once more on a new one
                    continue
                raise
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status, payload, seconds

    def json(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[Any, float]:
        status, payload, seconds = self.request(method, path, body)
        if status != 200:
            raise BenchError(f"{method} {path}: {status} {payload[:500]!r}")
        return json.loads(payload), seconds

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


# --------------------------------------------------------------------------- the deployment


def bench_environment(dev_yaml: str, reserved_concurrency: int) -> str:
    """dev.yaml with the bench's settings put in their sections."""
    text = dev_yaml
    for section, key, value in reversed((  # each key goes first in its section
        ("lambda", "reserved_concurrency", str(reserved_concurrency)),
        ("rate_limits", "ip_allowlist", "[127.0.0.1]"),
        ("api", "throttle_burst", "5000"),
        ("api", "throttle_rate", "10000"),
    )):
        text = set_key(text, section, key, value)
    return ("# bench/deployed-api: dev, plus 127.0.0.1 allow-listed, reserved concurrency for\n"
            "# every user's request and job, and API Gateway throttling at AWS's account defaults.\n" + text)


def set_key(text: str, section: str, key: str, value: str) -> str:
    """Sets `section.key` in a YAML file whose top-level sections are maps indented by two spaces."""
    lines = text.splitlines()
    try:
        start = lines.index(f"{section}:")
    except ValueError:
        return text.rstrip("\n") + f"\n\n{section}:\n  {key}: {value}\n"
    end = start + 1
    while end < len(lines) and (not lines[end] or lines[end].startswith((" ", "#"))):
        end += 1
    body = [line for line in lines[start + 1:end] if not line.startswith(f"  {key}:")]
    if any(line.startswith("    ") for line in lines[start + 1:end] if not line.startswith("  #")):
        raise BenchError(f"environments/dev.yaml: `{section}` has nested values this script cannot edit")
    lines[start + 1:end] = [f"  {key}: {value}", *body]
    return "\n".join(lines) + "\n"


@dataclass
class Deployment:
    api: str  # the API's local URL
    function: str
    log_group: str
    bootstrap: Path
    bootstrap_sha256: str
    zip_bytes: int
    reserved_concurrency: int
    environment_file: str


def pixelctl_env(workdir: Path, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIXELCTL_"))}
    env.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true",
        AWS_REGION=REGION, AWS_ENDPOINT_URL=endpoint, NO_COLOR="1", HOME=str(workdir),
        AWS_CONFIG_FILE=str(workdir / "no-aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-credentials"),
        PIXELCTL_PROJECT_DIR=str(workdir / "project"),
    )
    return env


def deploy(aws: LocalAws, workdir: Path, pixelctl: Path, bootstrap: Path, reserved_concurrency: int) -> Deployment:
    project = workdir / "project"
    for folder in ("environments", "templates"):
        shutil.copytree(REPO / folder, project / folder)
    (project / "frontend").mkdir()
    environment_file = bench_environment((REPO / "environments" / "dev.yaml").read_text(), reserved_concurrency)
    (project / "environments" / "dev.yaml").write_text(environment_file)
    for name in PROVIDER_KEYS:  # dummy keys: the fake providers only check that one is sent
        aws.aws("ssm", "POST", "/", {"Name": f"/pixel-prompt/{ENV}/{name}", "Value": "sk-bench-dummy-key",
                                     "Type": "SecureString"}, target="AmazonSSM.PutParameter")
    env = pixelctl_env(workdir, aws.endpoint)
    log(f"deploying {bootstrap} with pixelctl ({pixelctl}) to the bench environment")
    done = run([str(pixelctl), "deploy", ENV, "--yes", "--artifact", str(bootstrap), "--no-env-file",
                "--require-healthy", "--output", "json"], env, "pixelctl deploy", cwd=project)
    report = json.loads(done.stdout)
    zipped = project / "target" / "pixelctl" / Path(report["artifact"]["key"]).name
    outputs = json.loads(run([str(pixelctl), "outputs", ENV, "--format", "json"], env, "pixelctl outputs",
                             cwd=project).stdout)
    api = outputs["served_locally"]["ApiEndpoint"]
    functions = aws.aws("lambda", "GET", "/2015-03-31/functions/")["Functions"]
    stack = report.get("stack_name") or f"pixel-prompt-{ENV}"
    names = [f for f in functions if f["FunctionName"].startswith(stack)]
    if len(names) != 1:
        raise BenchError(f"expected one function of {stack}, found {[f['FunctionName'] for f in functions]}")
    function = names[0]
    log_group = function.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{function['FunctionName']}"
    log(f"deployed {function['FunctionName']}: API {api}, log group {log_group}; "
        f"{len(aws.instances(function['FunctionName']))} instance (the deploy's health check)")
    return Deployment(api, function["FunctionName"], log_group, bootstrap, sha256_file(bootstrap),
                      zipped.stat().st_size if zipped.is_file() else 0, reserved_concurrency, environment_file)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- measurements


def percentile(values: list[float], p: float) -> float:
    """Nearest rank, as lambda/examples/load.rs computes it."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return ordered[int(rank) - 1]


@dataclass
class ColdStarts:
    init_ms: list[float] = field(default_factory=list)
    first_request_ms: list[float] = field(default_factory=list)


def cold_starts(aws: LocalAws, deployment: Deployment, count: int) -> ColdStarts:
    """Each round changes `BENCH_COLD_START` so the next invoke starts a new instance."""
    result = ColdStarts()
    path = f"/2015-03-31/functions/{deployment.function}/configuration"
    seen = {i["log_stream"] for i in aws.instances(deployment.function)}
    for round_number in range(1, count + 1):
        variables = aws.aws("lambda", "GET", path)["Environment"]["Variables"]
        variables["BENCH_COLD_START"] = str(round_number)
        aws.aws("lambda", "PUT", path, {"Environment": {"Variables": variables}})
        api = Api(deployment.api)  # a new connection, opened before the clock starts
        health, seconds = api.json("GET", "/health")
        api.close()
        if health.get("build", {}).get("executableSha256") != deployment.bootstrap_sha256:
            raise BenchError(f"/health reports another build than {deployment.bootstrap}: {health.get('build')}")
        new = [i for i in aws.instances(deployment.function) if i["log_stream"] not in seen]
        if len(new) != 1:
            raise BenchError(f"round {round_number}: expected one new instance, found {len(new)}")
        seen.add(new[0]["log_stream"])
        events = aws.aws("logs", "POST", "/", {"logGroupName": deployment.log_group,
                                               "logStreamName": new[0]["log_stream"], "startFromHead": True},
                         target="Logs_20140328.GetLogEvents")["events"]
        found = REPORT_INIT.search("\n".join(e["message"] for e in events))
        if found is None:
            raise BenchError(f"round {round_number}: no REPORT line with Init Duration in {new[0]['log_stream']}")
        result.init_ms.append(float(found.group(1)))
        result.first_request_ms.append(seconds * 1000)
        log(f"  cold start {round_number}/{count}: Init Duration {found.group(1)} ms, "
            f"first GET /health {seconds * 1000:.1f} ms")
    return result


def seed_galleries(api: Api, count: int) -> None:
    """`count` finished generations, so GET /gallery/list answers a full page."""
    jobs = []
    for n in range(count):
        created, _ = api.json("POST", "/generate", {"prompt": f"bench gallery {n}: a lighthouse at dawn"})
        jobs.append(created["jobId"])
    deadline = time.monotonic() + 120
    while jobs:
        if time.monotonic() > deadline:
            raise BenchError(f"{len(jobs)} seeded jobs did not finish in 120 s")
        status, _ = api.json("GET", f"/status/{jobs[0]}")
        if status["status"] in ("completed", "partial", "failed"):
            if status["status"] != "completed":
                raise BenchError(f"seeded job {jobs[0]} ended {status['status']}: {status}")
            jobs.pop(0)
        else:
            time.sleep(0.2)


def wait_idle(aws: LocalAws, function: str, timeout: float = 120) -> int:
    """Waits until no instance of `function` is busy (async workers done); the instance count."""
    deadline = time.monotonic() + timeout
    while True:
        instances = aws.instances(function)
        if all(i["state"] == "idle" for i in instances):
            return len(instances)
        if time.monotonic() > deadline:
            raise BenchError(f"{function} still busy after {timeout} s")
        time.sleep(0.2)


@dataclass
class Warm:
    latency_ms: list[float]
    local_aws_cpu_ms: float  # the local AWS's CPU time per request


def warm_latency(aws: LocalAws, api: Api, requests: int) -> dict[str, Warm]:
    results: dict[str, Warm] = {}
    for path in ("/health", "/gallery/list"):
        for _ in range(5):  # unmeasured: the connection and each route's first call
            api.json("GET", path)
        samples = []
        cpu_before = cpu_seconds(aws.pid) or 0.0
        for _ in range(requests):
            status, payload, seconds = api.request("GET", path)
            if status != 200:
                raise BenchError(f"GET {path}: {status} {payload[:300]!r}")
            samples.append(seconds * 1000)
        cpu_ms = ((cpu_seconds(aws.pid) or 0.0) - cpu_before) * 1000 / requests
        results[f"GET {path}"] = Warm(samples, cpu_ms)
        log(f"  GET {path}: p50 {percentile(samples, 50):.1f} ms, p95 {percentile(samples, 95):.1f} ms "
            f"over {requests}; local AWS CPU {cpu_ms:.1f} ms per request")
    return results


@dataclass
class LoadRun:
    command: str
    summary: str
    rows: list[str]
    wall_s: float
    cpu_local_aws_s: float
    cpu_bootstraps_s: float
    cpu_load_s: float
    machine_busy: float
    instances: int
    requests: int
    errors: int


def load_run(aws: LocalAws, deployment: Deployment, load_bin: Path, users: int, seconds: int, poll_ms: int) -> LoadRun:
    args = ["--target", deployment.api, "--users", str(users), "--seconds", str(seconds), "--poll-ms", str(poll_ms)]
    before = {i["pid"]: cpu_seconds(i["pid"]) or 0.0 for i in aws.instances(deployment.function) if i["pid"]}
    aws_before = cpu_seconds(aws.pid) or 0.0
    busy_before = machine_busy()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen([str(load_bin), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, text=True)
    try:
        stdout, stderr = process.communicate(timeout=seconds + 120)
    except subprocess.TimeoutExpired as err:
        raise BenchError("the load run did not end") from err
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    wall = time.monotonic() - started
    # The generator is the only child reaped meanwhile: its whole CPU time.
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_cpu = (children_after.ru_utime + children_after.ru_stime
                - children_before.ru_utime - children_before.ru_stime)
    busy_after = machine_busy()
    aws_after = cpu_seconds(aws.pid) or 0.0
    instances = aws.instances(deployment.function)
    bootstraps = sum((cpu_seconds(i["pid"]) or 0.0) - before.get(i["pid"], 0.0) for i in instances if i["pid"])
    rows = [line for line in stdout.splitlines() if line.startswith("|")]
    if process.returncode not in (0, 1) or len(rows) < 4:
        raise BenchError(f"load: exit {process.returncode}\n{stderr[-2000:]}{stdout[-2000:]}")
    errors = sum(int(row.split("|")[3].split()[0]) for row in rows[2:])
    requests = re.search(r"requests=(\d+)", stdout)
    return LoadRun(
        command=f"cargo run --release -p pixel-prompt-api --example load -- {' '.join(args)}",
        summary=stdout.splitlines()[0], rows=rows, wall_s=wall, cpu_local_aws_s=aws_after - aws_before,
        cpu_bootstraps_s=bootstraps, cpu_load_s=load_cpu,
        machine_busy=(busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]),
        instances=len(instances), requests=int(requests.group(1)) if requests else 0, errors=errors,
    )


# --------------------------------------------------------------------------- report


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return f"{os.cpu_count()} CPUs ({cpu}), {memory}, {platform.system()} {platform.release()}"


def render(meta: dict[str, str], deployment: Deployment, cold: ColdStarts | None, warm: dict[str, Warm],
           load: LoadRun | None, gallery_page: int) -> str:
    mib = deployment.bootstrap.stat().st_size / 1024 / 1024
    out = [
        f"machine: {meta['machine']}; load average (1 min) {meta['loadavg_start']} at start, {meta['loadavg_end']} at end  ",
        f"deployed: `{meta['bootstrap']}` ({mib:.1f} MiB, zip {deployment.zip_bytes / 1024 / 1024:.1f} MiB, "
        f"sha256 {deployment.bootstrap_sha256[:12]}, built {meta['built']}), commit {meta['commit']}  ",
        f"environment: dev + `rate_limits.ip_allowlist: [127.0.0.1]`, `lambda.reserved_concurrency: "
        f"{deployment.reserved_concurrency}`, `api.throttle_burst: 5000`, `api.throttle_rate: 10000`; "
        f"local AWS with `--fake-providers`, moto {meta['moto']}, Python {platform.python_version()}",
        "",
    ]
    if cold is not None:
        out += [
            f"Cold starts ({len(cold.init_ms)}, each after UpdateFunctionConfiguration changed one variable):",
            "",
            "| measure | median ms | max ms |",
            "| --- | ---: | ---: |",
            f"| `Init Duration` (REPORT line: process start to its first `/next`) | "
            f"{statistics.median(cold.init_ms):.1f} | {max(cold.init_ms):.1f} |",
            f"| first `GET /health` through the local API Gateway | "
            f"{statistics.median(cold.first_request_ms):.1f} | {max(cold.first_request_ms):.1f} |",
            "",
        ]
    if warm:
        count = len(next(iter(warm.values())).latency_ms)
        out += [
            f"Warm, {count} sequential requests per route on one kept-alive connection "
            f"(`/gallery/list`: a full page of {gallery_page} galleries):",
            "",
            "| route | p50 ms | p95 ms | p99 ms | max ms | local AWS CPU per request |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for route, result in warm.items():
            samples = result.latency_ms
            out.append(f"| `{route}` | {percentile(samples, 50):.1f} | {percentile(samples, 95):.1f} | "
                       f"{percentile(samples, 99):.1f} | {max(samples):.1f} | {result.local_aws_cpu_ms:.1f} ms |")
        out.append("")
    if load is not None:
        cores = load.wall_s * (os.cpu_count() or 1)
        out += [
            f"Load: `{load.command}`  ",
            f"{load.summary}",
            "",
            *load.rows,
            "",
            f"errors: {load.errors} (target 0): {'met' if load.errors == 0 else '**not met**'}  ",
            f"CPU during the run ({load.wall_s:.1f} s wall, {os.cpu_count()} cores = {cores:.0f} core-seconds; "
            f"machine {load.machine_busy * 100:.0f}% busy):  ",
            f"local AWS (one Python process: gateway, Runtime API, moto, fake providers; its threads share one "
            f"core's worth under the GIL) {load.cpu_local_aws_s:.1f} s = "
            f"{load.cpu_local_aws_s / load.wall_s * 100:.0f}% of a core, "
            f"{load.cpu_local_aws_s * 1000 / max(1, load.requests):.0f} ms per API request; "
            f"{load.instances} bootstrap instances {load.cpu_bootstraps_s:.1f} s; "
            f"load generator {load.cpu_load_s:.1f} s",
            "",
        ]
    return "\n".join(out).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- main


def resolve_inputs(args: argparse.Namespace) -> tuple[Path, Path, Path]:
    """pixelctl, the Lambda's bootstrap and the load generator: given, present, or built now."""
    if args.pixelctl:
        pixelctl = Path(args.pixelctl).resolve()
    else:
        release, debug = REPO / "target" / "release" / "pixelctl", REPO / "target" / "debug" / "pixelctl"
        pixelctl = release if release.is_file() else debug
        if not pixelctl.is_file():
            build(["cargo", "build", "--locked", "-p", "pixelctl"], "pixelctl is missing")
    if not pixelctl.is_file():
        raise BenchError(f"no pixelctl at {pixelctl}")
    bootstrap = Path(args.bootstrap).resolve() if args.bootstrap else LAMBDA_BOOTSTRAP
    if not args.bootstrap and (args.rebuild or not bootstrap.is_file()):
        build([str(pixelctl), "build"], "building the Lambda (size-tuned `lambda` profile, minutes from clean)")
    if not bootstrap.is_file():
        raise BenchError(f"no Lambda bootstrap at {bootstrap}")
    load_bin = Path(args.load_bin).resolve() if args.load_bin else LOAD_BIN
    stale = load_bin.is_file() and load_bin.stat().st_mtime < LOAD_SOURCE.stat().st_mtime
    if args.users and not args.load_bin and (args.rebuild or stale or not load_bin.is_file()):
        build(["cargo", "build", "--locked", "--release", "-p", "pixel-prompt-api", "--example", "load"],
              "building the load generator")
    if args.users and not load_bin.is_file():
        raise BenchError(f"no load generator at {load_bin}")
    return pixelctl, bootstrap, load_bin


def metadata(bootstrap: Path) -> dict[str, str]:
    def out(cmd: list[str]) -> str:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, stdin=subprocess.DEVNULL)
        return (done.stdout or done.stderr).strip()

    commit = out(["git", "rev-parse", "--short=12", "HEAD"])
    if out(["git", "status", "--porcelain", "--", "lambda", "Cargo.toml", "Cargo.lock"]):
        commit += " (lambda/ or Cargo files have uncommitted changes)"
    return {
        "machine": machine(),
        "loadavg_start": loadavg(),
        "bootstrap": str(bootstrap.relative_to(REPO)) if bootstrap.is_relative_to(REPO) else str(bootstrap),
        "built": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(bootstrap.stat().st_mtime)),
        "commit": commit,
        "moto": out([str(PYTHON), "-c", "import moto; print(moto.__version__)"]),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/deployed-api",
        description="The real Lambda deployed by pixelctl to one local AWS: cold starts, warm latency through "
                    "the local API Gateway, and the 100-user load run against the deployed API.",
    )
    parser.add_argument("--cold-starts", type=int, default=7, help="cold starts to force (default 7; 0 skips)")
    parser.add_argument("--requests", type=int, default=300,
                        help="sequential warm requests per route (default 300; 0 skips)")
    parser.add_argument("--users", type=int, default=100, help="simulated users of the load run (default 100; 0 skips)")
    parser.add_argument("--seconds", type=int, default=20, help="length of the load run (default 20)")
    parser.add_argument("--poll-ms", type=int, default=2000, help="status poll interval of each user (default 2000, "
                        "the web client's)")
    parser.add_argument("--bootstrap", help="deploy this bootstrap (default target/x86_64-unknown-linux-gnu/lambda/"
                        "bootstrap, built with `pixelctl build` if missing)")
    parser.add_argument("--pixelctl", help="the pixelctl that deploys (default target/release/pixelctl, else "
                        "target/debug/pixelctl, built if missing)")
    parser.add_argument("--load-bin", help="the load generator (default target/release/examples/load, built if "
                        "missing or older than lambda/examples/load.rs)")
    parser.add_argument("--rebuild", action="store_true", help="run `pixelctl build` and build the load generator "
                        "even when present (cargo rebuilds only what changed)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (project copy, local AWS log)")
    args = parser.parse_args(argv)
    if not (0 <= args.cold_starts <= 100 and 0 <= args.requests <= 100_000 and 0 <= args.users <= 1000
            and 1 <= args.seconds <= 300 and 10 <= args.poll_ms <= 10_000):
        parser.error("--cold-starts 0-100, --requests 0-100000, --users 0-1000, --seconds 1-300, --poll-ms 10-10000")

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # each ends the run through `finally`
        signal.signal(signum, stop)

    workdir = Path(tempfile.mkdtemp(prefix="pixelctl-deployed-bench-"))
    aws = LocalAws(workdir)
    failed = False
    try:
        pixelctl, bootstrap, load_bin = resolve_inputs(args)
        meta = metadata(bootstrap)
        aws.start()
        log(f"local AWS at {aws.endpoint} (pid {aws.pid}); work directory {workdir}")
        # Each user has at most one request in flight and one job whose worker holds an instance.
        deployment = deploy(aws, workdir, pixelctl, bootstrap, reserved_concurrency=max(20, 2 * args.users))
        cold = None
        if args.cold_starts:
            log(f"{args.cold_starts} cold starts")
            cold = cold_starts(aws, deployment, args.cold_starts)
        warm: dict[str, Warm] = {}
        if args.requests:
            api = Api(deployment.api)
            log(f"seeding {GALLERY_PAGE} generations for /gallery/list")
            seed_galleries(api, GALLERY_PAGE)
            wait_idle(aws, deployment.function)
            log(f"warm latency: {args.requests} sequential requests per route")
            warm = warm_latency(aws, api, args.requests)
            api.close()
        load = None
        if args.users:
            log(f"load: {args.users} users, {args.seconds} s, poll {args.poll_ms} ms")
            load = load_run(aws, deployment, load_bin, args.users, args.seconds, args.poll_ms)
            log(f"  {load.summary}")
            log(f"  settled: {wait_idle(aws, deployment.function)} instances, all idle")
    except BenchError as err:
        print(f"bench: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        try:
            aws.stop()
        except BenchError as err:
            print(f"bench: error: {err}", file=sys.stderr)
            failed = True
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        return 1
    meta["loadavg_end"] = loadavg()
    sys.stdout.write(render(meta, deployment, cold, warm, load, GALLERY_PAGE))
    return 1 if load is not None and load.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
