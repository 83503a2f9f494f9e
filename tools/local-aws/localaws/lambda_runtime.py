"""The local AWS runs Lambda functions: `Invoke` starts the deployed `bootstrap`.

moto only stores functions (without Docker its Invoke echoes the payload). Here
a custom-runtime function (`provided*`) runs as Lambda runs it: the deployed
zip is extracted once per code hash, and each instance is the zip's `bootstrap`
process talking to its own Runtime API server (`/2018-06-01/runtime/...`) on
127.0.0.1. Warm instances are reused; a new one starts when all are busy, up to
the reserved concurrency (else `LambdaRuntime.default_concurrency`), beyond
which a sync invoke is throttled (429). The function's `Timeout` kills the
instance; a process that exits or reports an init error fails its invocation
and is discarded; new code or configuration retires the old instances. `Event`
invokes are queued, retried per the function's EventInvokeConfig and delivered
to SQS destinations. Output lines and the START/END/REPORT platform lines go to
CloudWatch Logs (moto's backend), one stream per instance.

Callers: the `Invoke` REST API (`intercept`, registered by the launcher) and
the API Gateway data plane (`RUNTIME.invoke`, `RUNTIME.function_policy_allows`).
Processes run in their own process group, die with the launcher
(`PR_SET_PDEATHSIG`) and are killed by `RUNTIME.shutdown()`.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import fcntl
import hashlib
import io
import json
import logging
import math
import os
import platform
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from queue import Queue
from typing import Any

from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.utils import (
    get_backend as lambda_backend,  # moto swaps the backend when Docker is off
)
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.logs.exceptions import ResourceNotFoundException
from moto.logs.models import logs_backends
from moto.sqs.models import sqs_backends
from werkzeug.wrappers import Request, Response

from . import emf
from .hosts import HOSTS, target

LOG = logging.getLogger(__name__)

LATEST = "$LATEST"
# AWS gives the init phase up to 10 s on top of the function's Timeout.
INIT_GRACE_SECONDS = 10.0
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
TAIL_BYTES = 4096
DEFAULT_MAX_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_SECONDS = 21600
RUNTIME_API_PREFIX = "/2018-06-01/runtime/"
_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
# name, name:qualifier, account:function:name[:qualifier], or the full ARN.
_FUNCTION_REF = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:)?(?:\d{12}:function:)?"
    r"(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9_$-]+))?$"
)
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


@dataclass
class InvokeResult:
    """What an invocation answered."""

    payload: bytes  # the function's answer, or the error JSON
    function_error: str | None  # "Unhandled" when the function failed, else None
    log_tail: str  # the invocation's log lines
    executed_version: str = LATEST
    request_id: str = ""


class TooManyRequests(Exception):
    """The function's concurrency is exhausted: a sync invoke answers 429."""

    def __init__(self, reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded") -> None:
        super().__init__("Rate Exceeded.")
        self.reason = reason


class FunctionNotFound(Exception):
    """No such function: 404 `ResourceNotFoundException`."""


class PoolClosed(Exception):
    """The function was deleted or the local AWS reset while an event waited for an instance."""


def _error_json(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class FunctionSnapshot:
    """A function as moto stores it, read once per invocation."""

    account_id: str
    region: str
    name: str
    version: str
    arn: str
    runtime: str
    handler: str
    architectures: tuple[str, ...]
    memory_size: int
    timeout: int
    environment: tuple[tuple[str, str], ...]
    log_group: str
    role: str
    code_sha: str
    reserved_concurrency: int | None
    event_invoke: tuple[tuple[str, Any], ...]
    code_bytes: bytes = field(repr=False, compare=False)

    @staticmethod
    def of(fn: LambdaFunction) -> FunctionSnapshot:
        logging_config = getattr(fn, "logging_config", None) or {}
        reserved = fn.reserved_concurrency
        invoke_configs = fn.event_invoke_config
        # UpdateFunctionEventInvokeConfig appends in moto: the last one is current.
        event_invoke = invoke_configs[-1].config if invoke_configs else {}
        version = str(fn.version)
        return FunctionSnapshot(
            account_id=fn.account_id,
            region=fn.region,
            name=fn.function_name,
            version=version,
            arn=fn.function_arn if version == LATEST else f"{fn.function_arn}:{version}",
            runtime=fn.run_time or "",
            handler=fn.handler or "",
            architectures=tuple(fn.architectures or ["x86_64"]),
            memory_size=int(fn.memory_size),
            timeout=int(fn.timeout),
            environment=tuple(sorted((str(k), str(v)) for k, v in (fn.environment_vars or {}).items())),
            log_group=logging_config.get("LogGroup") or f"/aws/lambda/{fn.function_name}",
            role=fn.role,
            code_sha=fn.code_sha_256,
            code_bytes=fn.code_bytes,
            reserved_concurrency=None if reserved in (None, "") else int(reserved),
            event_invoke=tuple(sorted(event_invoke.items())),
        )

    @property
    def instance_key(self) -> tuple[str, str]:
        """Instances are reusable while the code and the configuration stay the same."""
        config = [self.runtime, self.handler, self.architectures, self.memory_size, self.timeout,
                  self.environment, self.log_group, self.role]
        return self.code_sha, hashlib.sha256(json.dumps(config).encode()).hexdigest()[:16]

    @property
    def event_config(self) -> dict[str, Any]:
        return dict(self.event_invoke)

    def unrunnable(self) -> tuple[str, str] | None:
        """(errorType, errorMessage) when this host can't run the function."""
        if not self.runtime.startswith("provided"):
            return ("Runtime.InvalidRuntime",
                    f"The local AWS runs only custom-runtime functions (provided.al2023, provided.al2); "
                    f"`{self.name}` has runtime `{self.runtime or 'none (container image)'}`.")
        host = {"aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
        if host not in self.architectures:
            return ("Runtime.InvalidEntrypoint",
                    f"`{self.name}` is built for {', '.join(self.architectures)} and this host is {host}: "
                    f"the local AWS runs `bootstrap` natively, so only {host} functions run here.")
        return None


class Invocation:
    """One event on its way through an instance; state guarded by the pool's condition."""

    def __init__(self, function: FunctionSnapshot, payload: bytes, request_id: str | None = None) -> None:
        self.function = function
        self.payload = payload or b"{}"
        self.request_id = request_id or str(uuid.uuid4())
        self.handed_at: float | None = None
        self.taken_at: float | None = None
        self.deadline_epoch_ms = 0
        self.result: bytes = b""
        self.function_error: str | None = None
        self.finished = False
        self.platform_error: tuple[str, str] | None = None  # an error Lambda itself reports (and logs)
        self.log_lines: list[str] = []
        self.done = threading.Event()  # set once END/REPORT are written and the instance released

    def finish(self, payload: bytes, function_error: str | None) -> None:
        if not self.finished:
            self.finished = True
            self.result = payload
            self.function_error = function_error

    def fail(self, error_type: str, message: str) -> None:
        if not self.finished:
            self.platform_error = (error_type, message)
        self.finish(_error_json(error_type, message), "Unhandled")

    def outcome(self) -> InvokeResult:
        log = "".join(line + "\n" for line in self.log_lines)
        return InvokeResult(self.result, self.function_error, log, self.function.version, self.request_id)


class LogSink:
    """Writes lines to the function's CloudWatch log group (moto's logs backend)."""

    lock = threading.Lock()

    @classmethod
    def put(cls, function: FunctionSnapshot, stream: str, line: str) -> None:
        event = {"timestamp": int(time.time() * 1000), "message": line}
        emf.publish(function.account_id, function.region, line)
        with cls.lock:
            backend = logs_backends[function.account_id][function.region]
            try:
                backend.put_log_events(function.log_group, stream, [event])
            except ResourceNotFoundException:
                if function.log_group not in backend.groups:
                    backend.create_log_group(function.log_group, {})
                backend.ensure_log_stream(function.log_group, stream)
                backend.put_log_events(function.log_group, stream, [event])


class OutputReader:
    """Reads one of a process's pipes line by line; `idle` tells when all written output was handled."""

    def __init__(self, fd: int, on_line: Callable[[str], None]) -> None:
        self.fd = fd
        self.on_line = on_line
        self.processing = False
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"lambda-output-{fd}")
        self.thread.start()

    def _run(self) -> None:
        pending = b""
        while True:
            select.select([self.fd], [], [])
            self.processing = True
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self.on_line(line.decode("utf-8", "replace").rstrip("\r"))
            self.processing = False
        if pending:
            self.on_line(pending.decode("utf-8", "replace"))
        os.close(self.fd)
        self.processing = False

    def idle(self) -> bool:
        if not self.thread.is_alive():
            return True
        if self.processing:
            return False
        unread = ctypes.c_int(0)
        try:
            fcntl.ioctl(self.fd, termios.FIONREAD, unread)
        except OSError:
            return True
        return unread.value == 0


class Spawner:
    """Forks every instance from one long-lived thread.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so
    instances must not be forked by short-lived request threads.
    """

    def __init__(self) -> None:
        self.requests: Queue[tuple[dict[str, Any], Future[subprocess.Popen[bytes]]]] = Queue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def popen(self, **kwargs: Any) -> subprocess.Popen[bytes]:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, daemon=True, name="lambda-spawner")
                self.thread.start()
        future: Future[subprocess.Popen[bytes]] = Future()
        self.requests.put((kwargs, future))
        return future.result()

    def _run(self) -> None:
        while True:
            kwargs, future = self.requests.get()
            try:
                future.set_result(subprocess.Popen(preexec_fn=_die_with_launcher(os.getpid()), **kwargs))
            except BaseException as err:  # noqa: BLE001 - handed to the caller
                future.set_exception(err)


def _die_with_launcher(launcher_pid: int) -> Callable[[], None]:
    def preexec() -> None:
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != launcher_pid:  # the launcher died before prctl took effect
            os._exit(1)

    return preexec


def _killpg(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class Instance:
    """One `bootstrap` process with its Runtime API server. State guarded by `pool.cond`."""

    def __init__(self, pool: FunctionPool, function: FunctionSnapshot) -> None:
        self.pool = pool
        self.function = function
        self.key = function.instance_key
        self.id = uuid.uuid4().hex
        self.state = "busy"  # or "idle"
        self.process: subprocess.Popen[bytes] | None = None
        self.api: RuntimeApiServer | None = None
        self.readers: list[OutputReader] = []
        self.watcher: threading.Thread | None = None
        self.work_dir: Path | None = None
        self.log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[{function.version}]{self.id}"
        self.pending: Invocation | None = None  # handed over, not yet taken by /next
        self.current: Invocation | None = None  # taken by /next, not yet answered
        self.exit_code: int | None = None
        self.init_error: dict[str, Any] | None = None
        self.stopping = False
        self.spawned_at = 0.0
        self.first_next_at: float | None = None
        self.max_memory_mb = 0
        self.log_lock = threading.Lock()
        self.sink: Invocation | None = None  # the invocation output lines belong to

    # -- logs ------------------------------------------------------------------------------

    def log(self, line: str) -> None:
        with self.log_lock:
            if self.sink is not None:
                self.sink.log_lines.append(line)
            try:
                LogSink.put(self.function, self.log_stream, line)
            except Exception:  # logs must never break an invocation
                LOG.exception("writing a log line of %s", self.function.name)

    def settle_output(self) -> None:
        """Wait (briefly) until every line the process wrote has been logged, so END comes after them."""
        deadline = time.monotonic() + (2.0 if self.exit_code is not None else 0.5)
        while time.monotonic() < deadline and not all(reader.idle() for reader in self.readers):
            time.sleep(0.005)

    def sample_memory(self) -> None:
        """Remember the process's peak resident memory (`VmHWM`) while it is alive."""
        if self.process is None:
            return
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        if found:
            self.max_memory_mb = max(self.max_memory_mb, math.ceil(int(found.group(1)) / 1024))

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, runtime: LambdaRuntime) -> tuple[str, str] | None:
        """Start the process; (errorType, errorMessage) when it can't be."""
        function = self.function
        code_dir = runtime.code_dir(function)
        bootstrap = code_dir / "bootstrap"
        if not bootstrap.is_file():
            return ("Runtime.InvalidEntrypoint",
                    "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap] "
                    f"(the zip of `{function.name}` has no `bootstrap` at its root)")
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"{self.id[:8]}-", dir=runtime.root("instances")))
        self.api = RuntimeApiServer(self)
        threading.Thread(target=self.api.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                         name=f"lambda-runtime-api-{function.name}").start()
        env = runtime.environment(function, self, code_dir)
        self.spawned_at = time.monotonic()
        try:
            self.process = runtime.spawner.popen(
                args=[str(bootstrap)], cwd=str(code_dir), env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            )
        except OSError as err:
            self._close_api()
            shutil.rmtree(self.work_dir, ignore_errors=True)
            return ("Runtime.InvalidEntrypoint",
                    f"Couldn't start the `bootstrap` of `{function.name}`: {err.strerror or err}")
        assert self.process.stdout is not None and self.process.stderr is not None
        self.readers = [OutputReader(os.dup(pipe.fileno()), self.log)
                        for pipe in (self.process.stdout, self.process.stderr)]
        self.process.stdout.close()
        self.process.stderr.close()
        self.watcher = threading.Thread(target=self._watch, daemon=True, name=f"lambda-watch-{self.process.pid}")
        self.watcher.start()
        with self.pool.cond:
            if self.stopping:  # killed (function deleted, reset) while it was starting
                _killpg(self.process.pid)
        return None

    def _watch(self) -> None:
        assert self.process is not None
        # wait4 rather than Popen.wait: its rusage has the peak memory of a process that died unsampled.
        _, status, usage = os.wait4(self.process.pid, 0)
        code = self.process.returncode = os.waitstatus_to_exitcode(status)
        _killpg(self.process.pid)  # whatever it left behind in its group
        with self.pool.cond:
            self.max_memory_mb = max(self.max_memory_mb, math.ceil(usage.ru_maxrss / 1024))
            self.exit_code = code
            self.stopping = True
            self.pool.cond.notify_all()
        for reader in self.readers:
            reader.thread.join(timeout=2.0)
        self._close_api()
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        self.pool.discard_if_idle(self)

    def kill(self) -> None:
        """Stop the instance (call with `pool.cond` held); cleanup follows the process's exit."""
        self.stopping = True
        self.pool.cond.notify_all()
        if self.process is not None:
            _killpg(self.process.pid)

    def _close_api(self) -> None:
        if self.api is not None:
            api, self.api = self.api, None
            api.shutdown()
            api.server_close()

    def describe(self) -> dict[str, Any]:
        return {
            "function": self.function.name,
            "version": self.function.version,
            "account_id": self.function.account_id,
            "region": self.function.region,
            "state": self.state,
            "pid": self.process.pid if self.process is not None else None,
            "code_sha256": self.function.code_sha,
            "log_group": self.function.log_group,
            "log_stream": self.log_stream,
        }


class RuntimeApiServer(ThreadingHTTPServer):
    """One instance's Lambda Runtime API on 127.0.0.1."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        super().__init__(("127.0.0.1", 0), RuntimeApiHandler)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class RuntimeApiHandler(BaseHTTPRequestHandler):
    """`invocation/next`, `invocation/{id}/response`, `invocation/{id}/error`, `init/error`."""

    protocol_version = "HTTP/1.1"
    server: RuntimeApiServer

    def log_message(self, format: str, *args: Any) -> None:  # the base class's name
        return None

    def do_GET(self) -> None:  # http.server's naming
        if self.path.split("?")[0] != RUNTIME_API_PREFIX + "invocation/next":
            self._answer(404, {"errorMessage": f"no route {self.path}", "errorType": "InvalidRequest"})
            return
        instance = self.server.instance
        cond = instance.pool.cond
        with cond:
            if instance.first_next_at is None:
                instance.first_next_at = time.monotonic()
            while instance.pending is None and not instance.stopping:
                cond.wait()
            if instance.stopping:
                self.close_connection = True
                return
            invocation = instance.pending
            assert invocation is not None
            instance.pending, instance.current = None, invocation
            invocation.taken_at = time.monotonic()
            invocation.deadline_epoch_ms = int(time.time() * 1000) + invocation.function.timeout * 1000
            cond.notify_all()
        instance.log(f"START RequestId: {invocation.request_id} Version: {invocation.function.version}")
        trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
        self._answer(200, invocation.payload, {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_epoch_ms),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.function.arn,
            "Lambda-Runtime-Trace-Id": trace,
        })

    def do_POST(self) -> None:  # http.server's naming
        body = self._body()
        path = self.path.split("?")[0]
        instance = self.server.instance
        if path == RUNTIME_API_PREFIX + "init/error":
            error = _runtime_error(body, self.headers.get("Lambda-Runtime-Function-Error-Type"), "Runtime.InitError")
            with instance.pool.cond:
                instance.init_error = error
                instance.pool.cond.notify_all()
            self._answer(202, {"status": "OK"})
            return
        found = re.fullmatch(re.escape(RUNTIME_API_PREFIX) + r"invocation/([^/]+)/(response|error)", path)
        if not found:
            self._answer(404, {"errorMessage": f"no route {self.path}", "errorType": "InvalidRequest"})
            return
        request_id, kind = found.groups()
        with instance.pool.cond:
            invocation = instance.current
            if invocation is None or invocation.request_id != request_id:
                accepted = False
            else:
                accepted = True
                instance.current = None
                instance.sample_memory()
                if kind == "response":
                    invocation.finish(body, None)
                else:
                    error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                    invocation.finish(json.dumps(_runtime_error(body, error_type, "Unhandled")).encode(), "Unhandled")
                instance.pool.cond.notify_all()
        if accepted:
            self._answer(202, {"status": "OK"})
        else:
            self._answer(400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the instance was killed mid-answer


def _runtime_error(body: bytes, header_type: str | None, default_type: str) -> dict[str, Any]:
    """The error a runtime posted, as Lambda returns it: the JSON it sent, with errorType and errorMessage."""
    try:
        posted = json.loads(body)
    except ValueError:
        posted = None
    if not isinstance(posted, dict):
        posted = {"errorMessage": body.decode("utf-8", "replace")}
    posted.setdefault("errorType", header_type or default_type)
    posted.setdefault("errorMessage", "")
    return posted


@dataclass
class AsyncEvent:
    """A queued `Event` invocation and its attempts so far."""

    request_id: str
    payload: bytes
    enqueued_at: float
    ready_at: float
    attempts: int = 0


class FunctionPool:
    """The instances and the async queue of one function version."""

    def __init__(self, runtime: LambdaRuntime, account_id: str, region: str, name: str, version: str) -> None:
        self.runtime = runtime
        self.account_id, self.region, self.name, self.version = account_id, region, name, version
        self.cond = threading.Condition()
        self.instances: list[Instance] = []
        self.current_key: tuple[str, str] | None = None
        self.queue: list[AsyncEvent] = []
        self.dispatcher: threading.Thread | None = None
        self.closed = False

    # -- instances -------------------------------------------------------------------------

    def acquire(self, function: FunctionSnapshot, block: bool) -> tuple[Instance, bool]:
        """A warm instance marked busy, or a new (cold, not yet started) one; True when cold."""
        with self.cond:
            self.current_key = function.instance_key
            while True:
                if self.closed:
                    raise PoolClosed(self.name)
                for instance in list(self.instances):
                    if instance.state == "idle" and instance.key != function.instance_key:
                        self._retire(instance)
                for instance in self.instances:
                    if instance.state == "idle":
                        instance.state = "busy"
                        return instance, False
                reserved = function.reserved_concurrency
                limit = reserved if reserved is not None else self.runtime.default_concurrency
                if sum(1 for i in self.instances if i.state == "busy") < limit:
                    instance = Instance(self, function)
                    self.instances.append(instance)
                    return instance, True
                if not block:
                    raise TooManyRequests("ReservedFunctionConcurrentInvocationLimitExceeded" if reserved is not None
                                          else "ConcurrentInvocationLimitExceeded")
                self.cond.wait()

    def _retire(self, instance: Instance) -> None:
        if instance in self.instances:
            self.instances.remove(instance)
        instance.kill()

    def release(self, instance: Instance) -> None:
        with self.cond:
            stale = instance.key != self.current_key or self.closed
            broken = instance.exit_code is not None or instance.stopping or instance.init_error is not None
            if stale or broken or instance.process is None:
                self._retire(instance)
            else:
                instance.state = "idle"
            self.cond.notify_all()

    def discard_if_idle(self, instance: Instance) -> None:
        """An instance whose process ended between invocations is gone; the next invoke starts a fresh one."""
        with self.cond:
            if instance.state == "idle" and instance in self.instances:
                self.instances.remove(instance)
                self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.queue.clear()
            for instance in list(self.instances):
                self._retire(instance)
            self.cond.notify_all()

    # -- one invocation --------------------------------------------------------------------

    def run(self, instance: Instance, invocation: Invocation, cold: bool) -> None:
        """Deliver the event, wait for the answer or the deadline, log END/REPORT, release the instance."""
        function = invocation.function
        timed_out = False
        try:
            with instance.log_lock:
                instance.sink = invocation
            started = time.monotonic()
            problem = instance.start(self.runtime) if cold else None
            if problem is not None:
                invocation.fail(*problem)
            else:
                timed_out = self._deliver(instance, invocation)
            if instance.process is not None:
                instance.settle_output()
            with self.cond:
                instance.pending = None
                if instance.current is invocation:
                    instance.current = None
                taken_at = invocation.taken_at
            if taken_at is None:
                instance.log(f"START RequestId: {invocation.request_id} Version: {function.version}")
            if timed_out:
                instance.log(f"{_now_iso()} {invocation.request_id} Task timed out after {function.timeout:.2f} seconds")
            elif invocation.platform_error is not None:
                error_type, message = invocation.platform_error
                instance.log(message)
                instance.log(error_type)
            duration_ms = (time.monotonic() - (taken_at or started)) * 1000
            report = (f"REPORT RequestId: {invocation.request_id}\tDuration: {duration_ms:.2f} ms\t"
                      f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {function.memory_size} MB\t"
                      f"Max Memory Used: {instance.max_memory_mb} MB")
            if cold and instance.first_next_at is not None:
                report += f"\tInit Duration: {(instance.first_next_at - instance.spawned_at) * 1000:.2f} ms"
            instance.log(f"END RequestId: {invocation.request_id}")
            instance.log(report)
            with instance.log_lock:
                instance.sink = None
        except Exception as err:  # an invocation always ends, whatever broke here
            LOG.exception("running %s", function.name)
            invocation.fail("LocalAws.InternalError", f"The local AWS failed to run `{function.name}`: {err}")
        finally:
            self.release(instance)
            invocation.done.set()

    def _deliver(self, instance: Instance, invocation: Invocation) -> bool:
        """Hand the event over and wait for its end; True when the function's Timeout ended it."""
        timeout = invocation.function.timeout
        request = f"RequestId: {invocation.request_id} Error:"
        with self.cond:
            instance.pending = invocation
            invocation.handed_at = time.monotonic()
            self.cond.notify_all()
            while not invocation.finished:
                if instance.init_error is not None and invocation.taken_at is None:
                    error = instance.init_error
                    invocation.fail(str(error["errorType"]), str(error["errorMessage"]))
                    instance.kill()
                    return False
                if instance.exit_code is not None or instance.stopping:
                    invocation.fail("Runtime.ExitError", f"{request} Runtime exited with error: {_exit_cause(instance.exit_code)}")
                    return False
                if invocation.taken_at is not None:
                    limit = invocation.taken_at + timeout
                else:
                    limit = invocation.handed_at + INIT_GRACE_SECONDS + timeout
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    instance.sample_memory()
                    invocation.fail("Sandbox.Timedout", f"{request} Task timed out after {timeout:.2f} seconds")
                    instance.kill()
                    return True
                self.cond.wait(remaining)
        if len(invocation.result) > MAX_SYNC_PAYLOAD:
            invocation.result = _error_json("Function.ResponseSizeTooLarge",
                                            f"Response payload size exceeded maximum allowed payload size "
                                            f"({MAX_SYNC_PAYLOAD} bytes).")
            invocation.function_error = "Unhandled"
        return False

    # -- async -----------------------------------------------------------------------------

    def enqueue(self, payload: bytes) -> str:
        now = time.monotonic()
        event = AsyncEvent(str(uuid.uuid4()), payload, now, now)
        with self.cond:
            self.queue.append(event)
            if self.dispatcher is None:
                self.dispatcher = threading.Thread(target=self._dispatch, daemon=True, name=f"lambda-async-{self.name}")
                self.dispatcher.start()
            self.cond.notify_all()
        return event.request_id

    def _next_event(self) -> AsyncEvent | None:
        with self.cond:
            while not self.closed:
                now = time.monotonic()
                ready = [event for event in self.queue if event.ready_at <= now]
                if ready:
                    event = min(ready, key=lambda e: e.ready_at)
                    self.queue.remove(event)
                    return event
                self.cond.wait(min(e.ready_at for e in self.queue) - now if self.queue else None)
            return None

    def _dispatch(self) -> None:
        while (event := self._next_event()) is not None:
            try:
                function = self.runtime.snapshot(self.account_id, self.region, self._ref())
            except FunctionNotFound:
                continue
            max_age = int(function.event_config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_SECONDS))
            invocation = Invocation(function, event.payload, event.request_id)
            if time.monotonic() - event.enqueued_at > max_age:
                invocation.fail("EventAgeExceeded", "The event was older than MaximumEventAgeInSeconds.")
                self._destination(function, event, invocation, "EventAgeExceeded")
                continue
            event.attempts += 1
            problem = function.unrunnable()
            if problem is not None:
                invocation.fail(*problem)
                self._after_attempt(function, event, invocation)
                continue
            try:
                instance, cold = self.acquire(function, block=True)
            except PoolClosed:
                return

            def attempt(instance: Instance = instance, invocation: Invocation = invocation, cold: bool = cold,
                        event: AsyncEvent = event, function: FunctionSnapshot = function) -> None:
                self.run(instance, invocation, cold)
                self._after_attempt(function, event, invocation)

            threading.Thread(target=attempt, daemon=True, name=f"lambda-event-{event.request_id[:8]}").start()

    def _after_attempt(self, function: FunctionSnapshot, event: AsyncEvent, invocation: Invocation) -> None:
        if invocation.function_error is None:
            self._destination(function, event, invocation, "Success")
            return
        retries = int(function.event_config.get("MaximumRetryAttempts", DEFAULT_MAX_RETRY_ATTEMPTS))
        if event.attempts <= retries:
            with self.cond:
                if not self.closed:
                    event.ready_at = time.monotonic() + self.runtime.async_retry_delay_seconds * event.attempts
                    self.queue.append(event)
                    self.cond.notify_all()
            return
        self._destination(function, event, invocation, "RetriesExhausted")

    def _destination(self, function: FunctionSnapshot, event: AsyncEvent, invocation: Invocation,
                     condition: str) -> None:
        """Send Lambda's destination record to the on-success / on-failure SQS queue, if one is configured."""
        which = "OnSuccess" if condition == "Success" else "OnFailure"
        destination = function.event_config.get("DestinationConfig", {}).get(which, {}).get("Destination")
        if not destination:
            return
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": function.version}
        if invocation.function_error:
            response_context["functionError"] = invocation.function_error
        record = {
            "version": "1.0",
            "timestamp": _now_iso(),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": f"{function.arn}:{LATEST}" if function.version == LATEST else function.arn,
                "condition": condition,
                "approximateInvokeCount": event.attempts,
            },
            "requestPayload": _json_or_text(event.payload),
            "responseContext": response_context,
            "responsePayload": _json_or_text(invocation.result),
        }
        parts = destination.split(":")
        if len(parts) < 6 or parts[2] != "sqs":
            LOG.warning("%s: destination %s is not an SQS queue; the local AWS delivers only to SQS",
                        function.name, destination)
            return
        try:
            sqs_backends[parts[4]][parts[3]].send_message(parts[5], json.dumps(record))
        except Exception:  # e.g. the queue was deleted; AWS drops the record too
            LOG.exception("%s: delivering to %s", function.name, destination)

    def _ref(self) -> str:
        return self.name if self.version == LATEST else f"{self.name}:{self.version}"


def _exit_cause(code: int | None) -> str:
    """How a process ended, worded as Lambda words it (`exit status 1`, `signal: killed`)."""
    if code is not None and code >= 0:
        return f"exit status {code}"
    name = signal.strsignal(-code) if code is not None else None
    return f"signal: {(name or 'killed').lower()}"


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


class LambdaRuntime:
    """Every function's instances, async queues and extracted code."""

    def __init__(self) -> None:
        self.extra_env: dict[str, str] = {}  # added to every function's environment, overriding
        self.default_concurrency = 10  # for functions without ReservedConcurrentExecutions
        self.async_retry_delay_seconds = 1.0  # the first retry waits this long, the second twice as long
        self.spawner = Spawner()
        self.lock = threading.Lock()
        self.pools: dict[tuple[str, str, str, str], FunctionPool] = {}
        self.code_lock = threading.Lock()
        self._root: Path | None = None

    # -- public ----------------------------------------------------------------------------

    def invoke(
        self,
        account_id: str,
        region: str,
        function: str,
        payload: bytes,
        invocation_type: str = "RequestResponse",
        wait_timeout: float | None = None,
    ) -> InvokeResult:
        """Invoke `function` (name, `name:qualifier`, partial or full ARN).

        `RequestResponse` waits for the answer (TimeoutError after `wait_timeout`
        seconds; the invocation goes on until the function's own Timeout);
        `Event` queues and returns at once; `DryRun` only checks the function.
        Raises FunctionNotFound, TooManyRequests, ValueError (bad invocation type).
        """
        snapshot = self.snapshot(account_id, region, function)
        if invocation_type == "DryRun":
            return InvokeResult(b"", None, "", snapshot.version)
        if invocation_type == "Event":
            request_id = self.pool(snapshot).enqueue(payload)
            return InvokeResult(b"", None, "", snapshot.version, request_id)
        if invocation_type != "RequestResponse":
            raise ValueError(f"invalid invocation type `{invocation_type}` (RequestResponse, Event or DryRun)")
        invocation = Invocation(snapshot, payload)
        problem = snapshot.unrunnable()
        if problem is not None:
            invocation.fail(*problem)
            invocation.log_lines.append(problem[1])
            return invocation.outcome()
        pool = self.pool(snapshot)
        try:
            instance, cold = pool.acquire(snapshot, block=False)
        except PoolClosed as err:
            raise FunctionNotFound(f"Function not found: {snapshot.arn}") from err
        threading.Thread(target=pool.run, args=(instance, invocation, cold), daemon=True,
                         name=f"lambda-invoke-{invocation.request_id[:8]}").start()
        if not invocation.done.wait(wait_timeout):
            raise TimeoutError(f"`{snapshot.name}` did not answer within {wait_timeout} s")
        return invocation.outcome()

    def function_policy_allows(
        self, account_id: str, region: str, function: str, principal_service: str, source_arn: str
    ) -> bool:
        """Whether the function's resource policy lets `principal_service` invoke it from `source_arn`.

        False for a function that doesn't exist (no policy grants anything).
        """
        try:
            fn = self._function(account_id, region, function)
        except FunctionNotFound:
            return False
        return any(statement_allows(statement, principal_service, source_arn, account_id)
                   for statement in fn.policy.statements)

    def shutdown(self) -> None:
        """Kill every instance, wait for the processes to end and remove the temporary files."""
        self.reset()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    # -- control ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every function's instances and queued events (the processes are killed and reaped)."""
        with self.lock:
            pools, self.pools = list(self.pools.values()), {}
        self._close(pools)

    def forget(self, account_id: str, region: str, name: str) -> None:
        """The function was deleted: kill its instances, drop its queued events."""
        with self.lock:
            doomed = [key for key in self.pools if key[:3] == (account_id, region, name)]
            pools = [self.pools.pop(key) for key in doomed]
        self._close(pools)

    @staticmethod
    def _close(pools: list[FunctionPool]) -> None:
        watchers: list[threading.Thread] = []
        for pool in pools:
            with pool.cond:
                watchers += [i.watcher for i in pool.instances if i.watcher is not None]
            pool.close()
        for watcher in watchers:
            watcher.join(timeout=5.0)

    def describe(self) -> dict[str, Any]:
        with self.lock:
            pools = list(self.pools.values())
        instances: list[dict[str, Any]] = []
        for pool in pools:
            with pool.cond:
                instances += [instance.describe() for instance in pool.instances]
        return {"instances": instances, "temp_dir": str(self._root) if self._root is not None else None}

    # -- internals -------------------------------------------------------------------------

    def _function(self, account_id: str, region: str, function: str) -> LambdaFunction:
        found = _FUNCTION_REF.match(function)
        if found is None:
            raise FunctionNotFound(f"Function not found: {function}")
        name, qualifier = found.group("name"), found.group("qualifier")
        try:
            return lambda_backend(account_id, region)._lambdas.get_function_by_name_with_qualifier(name, qualifier)
        except UnknownFunctionException as err:
            raise FunctionNotFound(err.message) from err

    def snapshot(self, account_id: str, region: str, function: str) -> FunctionSnapshot:
        return FunctionSnapshot.of(self._function(account_id, region, function))

    def pool(self, function: FunctionSnapshot) -> FunctionPool:
        key = (function.account_id, function.region, function.name, function.version)
        with self.lock:
            if key not in self.pools:
                self.pools[key] = FunctionPool(self, *key)
            return self.pools[key]

    def root(self, sub: str) -> Path:
        with self.lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="local-aws-lambda-"))
            path = self._root / sub
        path.mkdir(exist_ok=True)
        return path

    def code_dir(self, function: FunctionSnapshot) -> Path:
        """The function's zip extracted (once per code hash), unix modes restored."""
        try:
            digest = base64.b64decode(function.code_sha, validate=True).hex()
        except ValueError:
            digest = hashlib.sha256(function.code_sha.encode()).hexdigest()
        target_dir = self.root("code") / digest
        with self.code_lock:
            if target_dir.is_dir():
                return target_dir
            partial = target_dir.with_name(digest + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
                for info in archive.infolist():
                    path = Path(archive.extract(info, partial))
                    mode = (info.external_attr >> 16) & 0o7777
                    if mode:
                        path.chmod(mode)
            partial.rename(target_dir)
        return target_dir

    def environment(self, function: FunctionSnapshot, instance: Instance, code_dir: Path) -> dict[str, str]:
        """What the process sees: a minimal base, the function's variables (local hostnames), Lambda's, extras."""
        assert instance.api is not None and instance.work_dir is not None
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(instance.work_dir),
            "TMPDIR": str(instance.work_dir),
            "LANG": "en_US.UTF-8",
        }
        env.update({key: HOSTS.rewrite(value) for key, value in function.environment})
        env.update({
            "AWS_LAMBDA_RUNTIME_API": instance.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": function.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": instance.log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "_HANDLER": function.handler,
            "LAMBDA_TASK_ROOT": str(code_dir),
            "TZ": ":UTC",
            "AWS_ACCESS_KEY_ID": "ASIALOCALAWSLAMBDA00",
            "AWS_SECRET_ACCESS_KEY": "local-aws-lambda-secret",
            "AWS_SESSION_TOKEN": "local-aws-lambda-session",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{HOSTS.port}",
        })
        env.update(self.extra_env)
        return env


def statement_allows(statement: dict[str, Any], principal_service: str, source_arn: str, account_id: str) -> bool:
    """Whether one resource-policy statement (as moto stores AddPermission's) grants the invoke."""
    if statement.get("Effect", "Allow") != "Allow":
        return False
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    if not any(fnmatchcase("lambda:InvokeFunction".lower(), a.lower()) for a in actions):
        return False
    principal = statement.get("Principal")
    if principal != "*":
        services = principal.get("Service", []) if isinstance(principal, dict) else principal
        services = [services] if isinstance(services, str) else services or []
        if principal_service not in services and "*" not in services:
            return False
    for operator, conditions in statement.get("Condition", {}).items():
        for key, expected in conditions.items():
            wanted = [expected] if isinstance(expected, str) else list(expected)
            if key.lower() == "aws:sourcearn":
                if operator in ("ArnLike", "ArnEquals"):
                    if not any(arn_like(pattern, source_arn) for pattern in wanted):
                        return False
                elif operator == "StringEquals":
                    if source_arn not in wanted:
                        return False
                else:
                    return False
            elif key.lower() == "aws:sourceaccount" and operator == "StringEquals":
                source_account = source_arn.split(":")[4] if source_arn.count(":") >= 5 else account_id
                if (source_account or account_id) not in wanted:
                    return False
            else:
                return False  # a condition we can't evaluate grants nothing
    return True


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's ArnLike: each of the six colon-separated parts matched with `*` and `?` wildcards."""
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return False
    return all(fnmatchcase(a, p.replace("[", "[[]")) for p, a in zip(pattern_parts, arn_parts, strict=True))


RUNTIME = LambdaRuntime()


# -- the Invoke REST API -------------------------------------------------------------------------


def _caller(request: Request) -> tuple[str, str]:
    """(account id, region) of a signed request, as moto derives them."""
    from moto.iam.models import get_account_id_from

    region, access_key = "us-east-1", ""
    for part in request.headers.get("Authorization", "").replace(",", " ").split():
        if part.startswith("Credential="):
            pieces = part[len("Credential="):].split("/")
            access_key = pieces[0]
            if len(pieces) >= 3:
                region = pieces[2]
    account = os.environ.get("MOTO_ACCOUNT_ID") or request.headers.get("x-moto-account-id")
    return account or (get_account_id_from(access_key) if access_key else DEFAULT_ACCOUNT_ID), region


def _api_error(status: int, code: str, message: str, **extra: str) -> Response:
    body = {"Type": "User", "message": message, **extra}
    return Response(json.dumps(body), status=status, mimetype="application/json",
                    headers={"x-amzn-ErrorType": code})


def intercept(request: Request) -> Response | None:
    """Answers `POST /2015-03-31/functions/{name}/invocations` by running the function; None otherwise."""
    if request.method != "POST":
        return None
    found = _INVOKE_PATH.match(request.path)
    if found is None or target(request.host, request.path) is not None:
        return None
    account_id, region = _caller(request)
    function = found.group("name")
    qualifier = request.args.get("Qualifier")
    reference = _FUNCTION_REF.match(function)
    if qualifier and reference is not None and reference.group("qualifier") is None:
        function = f"{function}:{qualifier}"
    invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    payload = request.get_data()
    if len(payload) > MAX_SYNC_PAYLOAD:
        return _api_error(413, "RequestTooLargeException",
                          f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation")
    if payload:
        try:
            json.loads(payload)
        except ValueError as err:
            return _api_error(400, "InvalidRequestContentException", f"Could not parse request body into json: {err}")
    try:
        result = RUNTIME.invoke(account_id, region, function, payload, invocation_type)
    except FunctionNotFound as err:
        return _api_error(404, "ResourceNotFoundException", str(err))
    except TooManyRequests as err:
        return _api_error(429, "TooManyRequestsException", str(err), Reason=err.reason)
    except ValueError as err:
        return _api_error(400, "InvalidParameterValueException", str(err))
    headers = {"X-Amz-Executed-Version": result.executed_version}
    if result.request_id:
        headers["x-amzn-RequestId"] = result.request_id
    if invocation_type == "Event":
        return Response(b"", status=202, headers=headers)
    if invocation_type == "DryRun":
        return Response(b"", status=204, headers=headers)
    if result.function_error:
        headers["X-Amz-Function-Error"] = result.function_error
    if request.headers.get("X-Amz-Log-Type") == "Tail":
        headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail.encode()[-TAIL_BYTES:]).decode()
    return Response(result.payload, status=200, mimetype="application/json", headers=headers)


def install() -> None:
    """Deleting a function (the API or a stack) kills its instances."""
    original = LambdaBackend.delete_function

    def delete_function(self: LambdaBackend, function_name: str, qualifier: str | None = None) -> None:
        name = self.get_function(function_name, qualifier).function_name
        original(self, function_name, qualifier)
        RUNTIME.forget(self.account_id, self.region_name, name)

    LambdaBackend.delete_function = delete_function  # type: ignore[method-assign]
