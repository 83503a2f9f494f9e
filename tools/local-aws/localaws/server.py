"""The HTTP server: moto's ThreadedMotoServer plus the `/_local-aws/*` control endpoints.

Control endpoints (JSON bodies, JSON answers):
- `POST /_local-aws/fail` `{"stack_name", "logical_id", "reason", "mode"?, "until_fixed"?}`
  arms a failure (`mode`: `fail`, default, `rollback_fails` or `rollback_only`;
  `until_fixed`: the rollback failure repeats until `POST /_local-aws/fix`).
- `POST /_local-aws/fix` `{"stack_name", "logical_id"}` removes that cause.
- `POST /_local-aws/s3-faults` `{"fault": "conflict"|"lost_response", "key_prefix", "bucket"?,
  "times"?}` arms S3 PutObject faults (`{"clear": true}` drops them).
- `GET|POST /_local-aws/config` reads or changes `cloudfront_deploy_seconds`,
  `resource_delay_ms`, `cloudfront_invalidation_seconds`,
  `integration_timeout_cap_seconds`, `async_retry_delay_seconds`,
  `lambda_default_concurrency`, `clock_offset_seconds`,
  `lambda_account_concurrency` and `page_size` (paging).
- `POST /_local-aws/hold` / `release` `{"what": "cloudfront-invalidations"}`
  keeps new invalidations `InProgress` until released; `"cloudfront-distributions"`
  the same for distributions created or updated; `{"what": "stack-operations"}`
  makes stack operations requested from then on start only when released;
  `{"what": "stack-resource", "stack_name", "logical_id"}` stops the stack's next
  operation just before that resource until released (`GET /_local-aws/hold`
  says when an operation waits there).
- `POST /_local-aws/reset` forgets every resource and stack.
- `GET /_local-aws/lambda` lists the running Lambda instances (lambda_runtime).
- `GET /_local-aws/requests` lists the AWS calls served so far (`service`,
  `operation`), oldest first, so a test or benchmark can count them;
  `POST /_local-aws/requests/clear` starts the list afresh.
- Smithy RPC v2 CBOR requests (the Rust SDK's CloudWatch) are answered by moto's
  JSON protocol for the same service, translated both ways (`rpcv2`).
- `/_local-aws/providers/<control>`: Bedrock's and the fake AI providers' controls
  (`fail`, `refuse`, `hold`, `release`, `clear`, `reset`, `GET requests`; see
  fake_providers.ProviderControls).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from . import rpcv2
from .engine import ENGINE, FailureMarker
from .fake_providers import ProviderControls
from .gateway import GATEWAY_SETTINGS
from .hosts import target
from .lambda_runtime import RUNTIME
from .moto_patches import (
    CLOUDFRONT_TIMING,
    INVALIDATION_TIMING,
    LAMBDA_ACCOUNT,
    S3_FAULTS,
    S3Fault,
)
from .paging import PAGING, limit_s3_listing
from .stacks import CLOCK

CONTROL_PREFIX = "/_local-aws/"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Answers a request itself (a data plane: Lambda Invoke, an HTTP API, a CloudFront
# distribution, Bedrock) or returns None to let moto answer. Registered by the
# launcher; tried in order before moto sees the request.
Interceptor = Callable[[Request], "Response | None"]
INTERCEPTORS: list[Interceptor] = []


# The controls behind `/_local-aws/providers/<control>`, set by the launcher.
PROVIDER_CONTROLS: ProviderControls | None = None


class RequestLog:
    """The AWS calls served so far, by service and operation."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict[str, str]] = []

    def record(self, environ: dict[str, Any]) -> None:
        operation = _operation(environ)
        service = _service(environ)
        caller = _credential_part(environ, 0)
        with self.lock:
            self.calls.append({"service": service, "operation": operation, "caller": caller})

    def snapshot(self) -> list[dict[str, str]]:
        with self.lock:
            return list(self.calls)

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()


REQUEST_LOG = RequestLog()


def _service(environ: dict[str, Any]) -> str:
    """The signing service named in the Authorization header (`cloudformation`, `s3` ...)."""
    return _credential_part(environ, 3)


def _credential_part(environ: dict[str, Any], index: int) -> str:
    """A part of the SigV4 `Credential=KEY/DATE/REGION/SERVICE/aws4_request` scope:
    0 is the access key id (who called), 3 the signing service."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    for part in auth.replace(",", " ").split():
        if part.startswith("Credential="):
            pieces = part[len("Credential="):].split("/")
            if len(pieces) >= 4:
                return str(pieces[index])
    return "unknown"


def _operation(environ: dict[str, Any]) -> str:
    """The operation: `X-Amz-Target`, an RPC v2 path, a query-protocol `Action`, or the
    REST method and path."""
    rpc = rpcv2.operation_of(environ)
    if rpc:
        return rpc
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target.split(".")[-1])
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return str(action[0])
    if environ.get("REQUEST_METHOD") == "POST" and "form" in environ.get("CONTENT_TYPE", ""):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        stream = environ["wsgi.input"]
        body = stream.read(length)
        # Put the body back for moto.
        environ["wsgi.input"] = io.BytesIO(body)
        found = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if found:
            return str(found[0])
    return f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '')}"


class ControlError(Exception):
    """A bad control request; answered with HTTP 400."""


def current_config() -> dict[str, Any]:
    return {
        "cloudfront_deploy_seconds": CLOUDFRONT_TIMING.deploy_seconds,
        "resource_delay_ms": ENGINE.resource_delay_ms,
        "cloudfront_invalidation_seconds": INVALIDATION_TIMING.seconds,
        "integration_timeout_cap_seconds": GATEWAY_SETTINGS.integration_timeout_cap_seconds,
        "async_retry_delay_seconds": RUNTIME.async_retry_delay_seconds,
        "lambda_default_concurrency": RUNTIME.default_concurrency,
        "clock_offset_seconds": CLOCK.offset_seconds,
        "lambda_account_concurrency": LAMBDA_ACCOUNT.concurrency_limit,
        "page_size": PAGING.page_size,
    }


def _arm_failure(body: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in ("stack_name", "logical_id") if not body.get(k)]
    if missing:
        raise ControlError(f"missing field(s): {', '.join(missing)}")
    mode = body.get("mode", "fail")
    if mode not in ("fail", "rollback_fails", "rollback_only"):
        raise ControlError("mode must be `fail`, `rollback_fails` or `rollback_only`")
    until_fixed = bool(body.get("until_fixed", False))
    if until_fixed and mode == "fail":
        raise ControlError("`until_fixed` is for rollback failures (`rollback_fails`, `rollback_only`)")
    reason = body.get("reason") or ("Injected failure" if mode == "fail" else "Injected rollback failure")
    with ENGINE.lock:
        ENGINE.arm_failure(body["stack_name"], body["logical_id"], FailureMarker(reason, mode, until_fixed))
    return {"armed": {"stack_name": body["stack_name"], "logical_id": body["logical_id"], "mode": mode,
                      "until_fixed": until_fixed}}


def _s3_faults(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("clear"):
        S3_FAULTS.clear()
        return {"s3_faults": "cleared"}
    fault = body.get("fault")
    if fault not in ("conflict", "lost_response"):
        raise ControlError("`fault` must be `conflict` (409 ConditionalRequestConflict, nothing written) or "
                           "`lost_response` (written, then a 500), or pass `clear: true`")
    times = body.get("times", 1)
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ControlError("`times` must be a whole number of at least 1")
    prefix = str(body.get("key_prefix", ""))
    bucket = body.get("bucket")
    S3_FAULTS.arm(S3Fault(prefix, fault, times, str(bucket) if bucket else None))
    return {"s3_faults": {"fault": fault, "key_prefix": prefix, "bucket": bucket, "times": times}}


def _fix(body: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in ("stack_name", "logical_id") if not body.get(k)]
    if missing:
        raise ControlError(f"missing field(s): {', '.join(missing)}")
    with ENGINE.lock:
        fixed = ENGINE.fix(body["stack_name"], body["logical_id"])
    return {"fixed": fixed}


def _configure(body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - set(current_config())
    if unknown:
        raise ControlError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    try:
        if "cloudfront_deploy_seconds" in body:
            CLOUDFRONT_TIMING.deploy_seconds = max(0.0, float(body["cloudfront_deploy_seconds"]))
        if "resource_delay_ms" in body:
            ENGINE.resource_delay_ms = max(0, int(body["resource_delay_ms"]))
        if "cloudfront_invalidation_seconds" in body:
            INVALIDATION_TIMING.seconds = max(0.0, float(body["cloudfront_invalidation_seconds"]))
        if "integration_timeout_cap_seconds" in body:
            GATEWAY_SETTINGS.integration_timeout_cap_seconds = min(30.0, max(0.0, float(body["integration_timeout_cap_seconds"])))
        if "async_retry_delay_seconds" in body:
            RUNTIME.async_retry_delay_seconds = max(0.0, float(body["async_retry_delay_seconds"]))
        if "lambda_default_concurrency" in body:
            RUNTIME.default_concurrency = max(1, int(body["lambda_default_concurrency"]))
        if "clock_offset_seconds" in body:
            CLOCK.offset_seconds = float(body["clock_offset_seconds"])
        if "page_size" in body:
            PAGING.page_size = max(0, int(body["page_size"]))
        if "lambda_account_concurrency" in body:
            LAMBDA_ACCOUNT.concurrency_limit = max(10, int(body["lambda_account_concurrency"]))
    except (TypeError, ValueError) as err:
        raise ControlError(f"settings must be numbers: {err}") from err
    return current_config()


def _reset(_: dict[str, Any]) -> dict[str, Any]:
    RUNTIME.reset()
    with ENGINE.lock:
        moto_api_backend.reset()
        ENGINE.reset()
    return {"reset": True}


# What `POST /_local-aws/hold` and `/release` `{"what": ...}` hold: name -> (hold, release),
# each given the request body.
def _hold_operations(_: dict[str, Any]) -> None:
    with ENGINE.lock:
        ENGINE.hold_operations()


def _release_operations(_: dict[str, Any]) -> None:
    with ENGINE.lock:
        ENGINE.release_operations()


def _stack_resource(body: dict[str, Any]) -> tuple[str, str]:
    stack_name, logical_id = body.get("stack_name"), body.get("logical_id")
    if not isinstance(stack_name, str) or not isinstance(logical_id, str):
        raise ControlError('`{"what": "stack-resource"}` needs "stack_name" and "logical_id" (strings)')
    return stack_name, logical_id


def _hold_resource(body: dict[str, Any]) -> None:
    with ENGINE.lock:
        ENGINE.hold_resource(*_stack_resource(body))


def _release_resource(body: dict[str, Any]) -> None:
    with ENGINE.lock:
        ENGINE.release_resource(*_stack_resource(body))


HOLDS: dict[str, tuple[Callable[[dict[str, Any]], None], Callable[[dict[str, Any]], None]]] = {
    "cloudfront-invalidations": (lambda _: INVALIDATION_TIMING.hold(), lambda _: INVALIDATION_TIMING.release()),
    "cloudfront-distributions": (lambda _: CLOUDFRONT_TIMING.hold(), lambda _: CLOUDFRONT_TIMING.release()),
    "stack-operations": (_hold_operations, _release_operations),
    "stack-resource": (_hold_resource, _release_resource),
}


def _holdable(body: dict[str, Any]) -> tuple[Callable[[dict[str, Any]], None], Callable[[dict[str, Any]], None]]:
    found = HOLDS.get(body.get("what", ""))
    if found is None:
        raise ControlError(f"`what` must be one of: {', '.join(sorted(HOLDS))}")
    return found


def _hold(body: dict[str, Any]) -> dict[str, Any]:
    _holdable(body)[0](body)
    return {"held": body["what"]}


def _release(body: dict[str, Any]) -> dict[str, Any]:
    _holdable(body)[1](body)
    return {"released": body["what"]}


def current_holds() -> dict[str, Any]:
    """`GET /_local-aws/hold`: the armed resource holds (`reached`: an operation waits there)."""
    with ENGINE.lock:
        return {"stack_resources": ENGINE.resource_holds()}


_POST_ROUTES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "fail": _arm_failure,
    "fix": _fix,
    "s3-faults": _s3_faults,
    "config": _configure,
    "reset": _reset,
    "hold": _hold,
    "release": _release,
}


class ControlApp:
    """WSGI middleware: answers `/_local-aws/*`, passes everything else to moto."""

    def __init__(self, moto_app: WsgiApp):
        self.moto_app = moto_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CONTROL_PREFIX):
            # AWS API calls only: requests to a deployed API or distribution
            # are the app's traffic, not calls a command made.
            if not path.startswith("/moto-api") and target(environ.get("HTTP_HOST", ""), path) is None:
                REQUEST_LOG.record(environ)
                if _service(environ) == "s3":
                    limit_s3_listing(environ)
            if INTERCEPTORS:
                request = Request(environ)
                for intercept in INTERCEPTORS:
                    response = intercept(request)
                    if response is not None:
                        return response(environ, start_response)
            if rpcv2.operation_of(environ):
                return rpcv2.adapt(environ, start_response, self.moto_app)
            return self.moto_app(environ, start_response)
        return self._answer(Request(environ))(environ, start_response)

    @staticmethod
    def _answer(request: Request) -> Response:
        name = request.path[len(CONTROL_PREFIX):].strip("/")
        if name.startswith("providers/") and PROVIDER_CONTROLS is not None:
            status, answer = PROVIDER_CONTROLS.control(request.method, name[len("providers/"):], request.get_data())
            return _json(status, answer)
        if request.method == "GET" and name == "config":
            return _json(200, current_config())
        if request.method == "GET" and name == "hold":
            return _json(200, current_holds())
        if request.method == "GET" and name == "lambda":
            return _json(200, RUNTIME.describe())
        if request.method == "GET" and name == "requests":
            return _json(200, {"requests": REQUEST_LOG.snapshot()})
        if request.method == "POST" and name == "requests/clear":
            REQUEST_LOG.clear()
            return _json(200, {"cleared": True})
        route = _POST_ROUTES.get(name)
        if request.method != "POST" or route is None:
            return _json(404, {"error": f"no control endpoint {request.method} {request.path}"})
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
            if not isinstance(body, dict):
                raise ControlError("the body must be a JSON object")
            return _json(200, route(body))
        except (ControlError, json.JSONDecodeError) as err:
            return _json(400, {"error": str(err)})


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


class LocalAwsServer(ThreadedMotoServer):
    """ThreadedMotoServer whose WSGI app is wrapped by `ControlApp`."""

    def _server_entry(self) -> None:
        app = ControlApp(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()
