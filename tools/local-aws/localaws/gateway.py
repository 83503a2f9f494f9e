"""API Gateway HTTP APIs served as AWS serves them, from what moto stores.

moto keeps the APIs, routes, integrations and stages that CloudFormation deploys
(`resources/api.py`) but answers no request sent to an API. Here a request to
`{apiId}.execute-api.localhost:{port}` (or `/_aws/execute-api/{apiId}/...`)
picks a stage and a route the way API Gateway does, applies the stage's
throttling and the API's CORS configuration, checks the function's invoke
permission, calls the route's Lambda proxy integration with the payload format
2.0 event through `lambda_runtime.RUNTIME` and turns the function's answer, or
its failure, into the response API Gateway would send. What is modeled and what
is not: README, "HTTP APIs serve".
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import parse_qsl, unquote

from moto.apigatewayv2.models import Api, Stage, apigatewayv2_backends
from moto.logs.models import logs_backends
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from .hosts import HOSTS, target
from .lambda_runtime import RUNTIME, FunctionNotFound, TooManyRequests

# API Gateway's own answers (REFERENCE.md §7).
NOT_FOUND = (404, "Not Found")
TOO_MANY_REQUESTS = (429, "Too Many Requests")
INTERNAL_ERROR = (500, "Internal Server Error")
SERVICE_UNAVAILABLE = (503, "Service Unavailable")

# HTTP APIs cap an integration at 30 s whatever its TimeoutInMillis says.
MAX_INTEGRATION_TIMEOUT_SECONDS = 30.0
# Account-level throttling that applies when a stage sets no limit of its own.
ACCOUNT_BURST_LIMIT = 5000
ACCOUNT_RATE_LIMIT = 10000.0

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_TYPES = re.compile(r"^(text/|application/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded)\b)", re.I)
# Headers the gateway sets itself on the way out; a function's values are dropped.
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "apigw-requestid"})


class GatewaySettings:
    """Runtime-adjustable limits (`/_local-aws/config`)."""

    def __init__(self) -> None:
        # Lowers the 30 s integration limit so a test can reach it quickly.
        self.integration_timeout_cap_seconds = MAX_INTEGRATION_TIMEOUT_SECONDS


GATEWAY_SETTINGS = GatewaySettings()


# --- Route selection (pure) -------------------------------------------------


@dataclass(frozen=True)
class RouteMatch:
    route_key: str
    path_parameters: dict[str, str]


def _segment_rank(segment: str) -> int:
    """0 for a literal segment, 1 for `{param}`, 2 for greedy `{param+}` (less specific)."""
    if segment.startswith("{") and segment.endswith("+}"):
        return 2
    if segment.startswith("{") and segment.endswith("}"):
        return 1
    return 0


def _match_path(template: str, path: str) -> dict[str, str] | None:
    """The path parameters when `path` fits the route path `template`, else None."""
    wanted = template[1:].split("/")
    given = path[1:].split("/")
    parameters: dict[str, str] = {}
    for index, segment in enumerate(wanted):
        rank = _segment_rank(segment)
        if rank == 2:
            rest = given[index:]
            if index != len(wanted) - 1 or not rest or rest == [""]:
                return None
            parameters[segment[1:-2]] = unquote("/".join(rest))
            return parameters
        if index >= len(given):
            return None
        if rank == 1:
            if not given[index]:
                return None
            parameters[segment[1:-1]] = unquote(given[index])
        elif segment != given[index]:
            return None
    return parameters if len(given) == len(wanted) else None


def match_route(route_keys: Iterable[str], method: str, path: str) -> RouteMatch | None:
    """The route API Gateway picks for `method path`, most specific first, `$default` last.

    Specificity compares the route paths segment by segment from the left (a
    literal beats `{param}`, which beats greedy `{proxy+}`); for equal paths an
    explicit method beats `ANY`.
    """
    candidates: list[tuple[tuple[list[int], int], RouteMatch]] = []
    has_default = False
    for route_key in route_keys:
        if route_key == "$default":
            has_default = True
            continue
        route_method, _, route_path = route_key.partition(" ")
        if route_method.upper() not in (method.upper(), "ANY") or not route_path.startswith("/"):
            continue
        parameters = _match_path(route_path, path)
        if parameters is None:
            continue
        ranks = [_segment_rank(s) for s in route_path[1:].split("/")]
        candidates.append(((ranks, int(route_method.upper() == "ANY")), RouteMatch(route_key, parameters)))
    if candidates:
        return min(candidates, key=lambda candidate: candidate[0])[1]
    return RouteMatch("$default", {}) if has_default else None


# --- Throttling -------------------------------------------------------------


class TokenBucket:
    """`burst` tokens at most, refilled at `rate` per second; a request takes one."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst = burst
        self.rate = rate
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Throttles:
    """One bucket per API, stage, route and limits (changed limits start a fresh bucket)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[tuple[str, str, str, int, float], TokenBucket] = {}

    def admit(self, api_id: str, stage: Stage, route_key: str) -> bool:
        burst, rate = _throttling(stage, route_key)
        key = (api_id, stage.name, route_key, burst, rate)
        with self.lock:
            bucket = self.buckets.get(key)
            if bucket is None:
                bucket = self.buckets[key] = TokenBucket(burst, rate)
            return bucket.take()


THROTTLES = Throttles()


def _route_settings(stage: Stage, route_key: str) -> dict[str, Any]:
    settings = stage.route_settings or {}
    # CloudFormation-deployed stages reach moto with camel-cased keys ("pOST /x").
    found = settings.get(route_key) or settings.get(route_key[:1].lower() + route_key[1:])
    return found if isinstance(found, dict) else {}


def _throttling(stage: Stage, route_key: str) -> tuple[int, float]:
    """(burst, rate) for a route: its RouteSettings, else the stage's DefaultRouteSettings."""
    default = stage.default_route_settings or {}
    route = _route_settings(stage, route_key)
    burst = route.get("throttlingBurstLimit", default.get("throttlingBurstLimit", ACCOUNT_BURST_LIMIT))
    rate = route.get("throttlingRateLimit", default.get("throttlingRateLimit", ACCOUNT_RATE_LIMIT))
    return int(burst), float(rate)


# --- Finding the API, stage and integration ---------------------------------


def _find_api(api_id: str) -> tuple[str, str, Api] | None:
    """(account, region, api) for an API id in any account and region moto has touched."""
    for account_id, regions in list(dict.items(apigatewayv2_backends)):
        for region, backend in list(dict.items(regions)):
            api = backend.apis.get(api_id)
            if api is not None:
                return account_id, region, api
    return None


def _deployed(stage: Stage) -> bool:
    return bool(stage.auto_deploy) or bool(stage.config.get("deploymentId"))


def _select_stage(api: Api, path: str) -> tuple[Stage, str] | None:
    """The stage a raw path addresses and the path within it: `/{name}/...` or else `$default`."""
    first, _, rest = path[1:].partition("/")
    named = api.stages.get(unquote(first)) if first and first != "$default" else None
    if named is not None:
        return (named, "/" + rest) if _deployed(named) else None
    default = api.stages.get("$default")
    if default is not None and _deployed(default):
        return default, path
    return None


_LAMBDA_ARN = re.compile(r"arn:aws[\w-]*:lambda:([\w-]+):(\d{12}):function:([\w-]+)")


def lambda_target(integration_uri: str) -> tuple[str, str, str] | None:
    """(account, region, function name) of a Lambda ARN, bare or in the `apigateway:lambda:path` form."""
    found = _LAMBDA_ARN.search(integration_uri or "")
    return (found.group(2), found.group(1), found.group(3)) if found else None


# --- The payload format 2.0 event -------------------------------------------


def _request_time(now: float) -> str:
    moment = datetime.fromtimestamp(now, tz=UTC)
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def _is_text(content_type: str, body: bytes) -> bool:
    if not _TEXT_TYPES.match(content_type.strip()):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class Invocation:
    """What the gateway knows about one request when it calls the integration."""

    account_id: str
    region: str
    api_id: str
    stage: str
    raw_path: str
    request_id: str
    source_ip: str
    port: int


def build_event(request: Request, invocation: Invocation, route: RouteMatch, body: bytes, now: float) -> dict[str, Any]:
    """The Lambda proxy payload, format 2.0, as API Gateway builds it."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers.items():
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {invocation.source_ip}" if forwarded else invocation.source_ip
    headers["x-forwarded-proto"] = "http"
    headers["x-forwarded-port"] = str(invocation.port)
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{secrets.token_hex(12)}")

    domain_name = f"{invocation.api_id}.execute-api.localhost"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": invocation.raw_path,
        "rawQueryString": request.query_string.decode("latin-1"),
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query: dict[str, str] = {}
    for name, value in parse_qsl(event["rawQueryString"], keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": invocation.account_id,
        "apiId": invocation.api_id,
        "domainName": domain_name,
        "domainPrefix": invocation.api_id,
        "http": {
            "method": request.method,
            "path": invocation.raw_path,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": invocation.source_ip,
            "userAgent": request.headers.get("User-Agent", ""),
        },
        "requestId": invocation.request_id,
        "routeKey": route.route_key,
        "stage": invocation.stage,
        "time": _request_time(now),
        "timeEpoch": int(now * 1000),
    }
    if body:
        text = _is_text(request.headers.get("Content-Type", ""), body)
        event["body"] = body.decode("utf-8") if text else base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = not text
    else:
        event["isBase64Encoded"] = False
    if route.path_parameters:
        event["pathParameters"] = dict(route.path_parameters)
    return event


# --- The function's answer --------------------------------------------------


def _header_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def translate_response(payload: bytes) -> Response | None:
    """The HTTP response for a function's format 2.0 answer, or None when it is malformed."""
    try:
        answer = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(answer, dict) or "statusCode" not in answer:
        # Valid JSON without a statusCode: a 200 with that JSON as the body.
        return Response(payload, status=200, content_type="application/json")
    status = answer["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return None
    headers = Headers()
    raw_headers = answer.get("headers") or {}
    cookies = answer.get("cookies") or []
    if not isinstance(raw_headers, dict) or not isinstance(cookies, list):
        return None
    for name, value in raw_headers.items():
        text = _header_value(value)
        if text is None:
            return None
        if name.lower() not in _HOP_HEADERS:
            headers.add(name, text)
    for cookie in cookies:
        if not isinstance(cookie, str):
            return None
        headers.add("Set-Cookie", cookie)
    body = answer.get("body")
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode("utf-8")
        if answer.get("isBase64Encoded") is True:
            try:
                data = base64.b64decode(body, validate=True)
            except ValueError:
                return None
    else:
        return None
    typed = "Content-Type" in headers
    response = Response(data, status=status, headers=headers)
    if not typed:
        # No Content-Type from the function: none from the gateway either.
        response.headers.pop("Content-Type", None)
    return response


# --- CORS -------------------------------------------------------------------


def _allowed_origin(cors: dict[str, Any], origin: str) -> str | None:
    """The `Access-Control-Allow-Origin` value for a request's Origin, or None when not allowed.

    An allowed origin that names an AWS host (`https://{id}.cloudfront.net`, such as
    a stack allowing its own distribution) also allows the local form this server
    serves that host at (`http://{id}.cloudfront.localhost:{port}`), the origin a
    browser sends for a page opened there: the same rewrite the functions'
    environment variables get.
    """
    allowed = cors.get("allowOrigins") or []
    if "*" in allowed:
        return "*"
    if origin in allowed or origin in {HOSTS.rewrite(listed) for listed in allowed}:
        return origin
    return None


def _preflight(cors: dict[str, Any], request: Request) -> Response:
    """API Gateway's own answer to a CORS preflight, whatever the routes."""
    response = Response(status=204)
    origin = _allowed_origin(cors, request.headers.get("Origin", ""))
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        if cors.get("allowCredentials"):
            response.headers["Access-Control-Allow-Credentials"] = "true"
    if cors.get("allowMethods"):
        response.headers["Access-Control-Allow-Methods"] = ",".join(cors["allowMethods"])
    if cors.get("allowHeaders"):
        response.headers["Access-Control-Allow-Headers"] = ",".join(cors["allowHeaders"])
    if cors.get("maxAge") is not None:
        response.headers["Access-Control-Max-Age"] = str(cors["maxAge"])
    response.headers.pop("Content-Type", None)
    return response


def _apply_cors(cors: dict[str, Any], request: Request, response: Response) -> None:
    """The gateway's CORS headers replace whatever CORS headers the function sent."""
    for name in {name for name, _ in response.headers if name.lower().startswith("access-control-")}:
        del response.headers[name]
    origin = _allowed_origin(cors, request.headers.get("Origin", ""))
    if origin is None:
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    if cors.get("allowCredentials"):
        response.headers["Access-Control-Allow-Credentials"] = "true"
    if cors.get("exposeHeaders"):
        response.headers["Access-Control-Expose-Headers"] = ",".join(cors["exposeHeaders"])


# --- Serving ----------------------------------------------------------------


def _message(answer: tuple[int, str]) -> Response:
    status, message = answer
    return Response(json.dumps({"message": message}), status=status, content_type="application/json")


def _request_id() -> str:
    """An id shaped like API Gateway's (`JKJaXmPLvHcESHA=`)."""
    return base64.b64encode(uuid.uuid4().bytes[:10]).decode("ascii")


def _raw_path(request: Request) -> str:
    """The path as the client sent it, still percent-encoded."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    return raw.split("?", 1)[0] or "/"


def intercept(request: Request) -> Response | None:
    """Answers requests addressed to an HTTP API; None for everything else."""
    found = target(request.host, _raw_path(request))
    if found is None or found.service != "execute-api":
        return None
    request_id = _request_id()
    response = _serve(request, found.name, found.path, request_id)
    response.headers["apigw-requestid"] = request_id
    return response


def _serve(request: Request, api_id: str, raw_path: str, request_id: str) -> Response:
    located = _find_api(api_id)
    if located is None:
        return _message(NOT_FOUND)
    account_id, region, api = located
    selected = _select_stage(api, raw_path)
    if selected is None:
        return _message(NOT_FOUND)
    stage, path = selected
    access = AccessRecord(request_id=request_id, started=time.time())
    response = _answer(request, api, stage, path, account_id, region, raw_path, request_id, access)
    write_access_log(account_id, region, stage, request, response, access)
    return response


def _answer(
    request: Request, api: Api, stage: Stage, path: str, account_id: str, region: str, raw_path: str,
    request_id: str, access: AccessRecord,
) -> Response:
    # The Api resource handler stores the parsed CORS dict there; moto annotates it as str.
    cors = cast("dict[str, Any] | None", api.cors_configuration or None)
    is_preflight = request.method == "OPTIONS" and "Origin" in request.headers and "Access-Control-Request-Method" in request.headers
    if cors and is_preflight:
        return _preflight(cors, request)
    invocation = Invocation(
        account_id=account_id,
        region=region,
        api_id=api.api_id,
        stage=stage.name,
        raw_path=raw_path,
        request_id=request_id,
        source_ip=request.remote_addr or "127.0.0.1",
        port=int(request.environ.get("SERVER_PORT") or 0),
    )
    response = _route(request, api, stage, path, invocation, access)
    if cors:
        _apply_cors(cors, request, response)
    return response


def _route(request: Request, api: Api, stage: Stage, path: str, invocation: Invocation, access: AccessRecord) -> Response:
    routes = {route.route_key: route for route in list(api.routes.values())}
    matched = match_route(routes, request.method, path)
    if matched is None:
        return access.gateway_error(NOT_FOUND)
    access.route_key = matched.route_key
    route = routes[matched.route_key]
    integration_id = (route.target or "").removeprefix("integrations/")
    integration = api.integrations.get(integration_id)
    if integration is None:
        return access.gateway_error(NOT_FOUND)
    if not THROTTLES.admit(api.api_id, stage, matched.route_key):
        return access.gateway_error(TOO_MANY_REQUESTS)
    function = lambda_target(integration.integration_uri)
    if integration.integration_type != "AWS_PROXY" or function is None or integration.payload_format_version != "2.0":
        return access.gateway_error(INTERNAL_ERROR)
    return _invoke(request, invocation, matched, function, integration.timeout_in_millis, path, access)


def source_arn(invocation: Invocation, route_key: str, method: str, path: str) -> str:
    """The execute-api ARN the gateway presents to Lambda: `{api}/{stage}/{METHOD}/{path}`, or `.../$default`."""
    resource = "$default" if route_key == "$default" else f"{method.upper()}/{path.lstrip('/')}"
    return f"arn:aws:execute-api:{invocation.region}:{invocation.account_id}:{invocation.api_id}/{invocation.stage}/{resource}"


def _invoke(
    request: Request, invocation: Invocation, route: RouteMatch, function: tuple[str, str, str], timeout_ms: int | None,
    path: str, access: AccessRecord,
) -> Response:
    function_account, function_region, function_name = function
    arn = source_arn(invocation, route.route_key, request.method, path)
    limit = min(MAX_INTEGRATION_TIMEOUT_SECONDS, (timeout_ms or 30000) / 1000, GATEWAY_SETTINGS.integration_timeout_cap_seconds)
    now = time.time()
    event = build_event(request, invocation, route, request.get_data(), now)
    try:
        if not RUNTIME.function_policy_allows(function_account, function_region, function_name, "apigateway.amazonaws.com", arn):
            access.integration_error = "Lambda permission denied: no statement lets apigateway.amazonaws.com invoke it"
            return access.gateway_error(INTERNAL_ERROR)
        result = RUNTIME.invoke(function_account, function_region, function_name, json.dumps(event).encode(), wait_timeout=limit)
    except TimeoutError:
        access.integration_error = "The integration timed out"
        return access.gateway_error(SERVICE_UNAVAILABLE)
    except (FunctionNotFound, TooManyRequests) as err:
        # HTTP APIs answer a throttled or missing function with a plain 500.
        access.integration_status = "429" if isinstance(err, TooManyRequests) else "404"
        access.integration_error = "Lambda throttled the invocation" if isinstance(err, TooManyRequests) else "Function not found"
        return access.gateway_error(INTERNAL_ERROR)
    finally:
        access.integration_latency_ms = int((time.time() - now) * 1000)
    access.integration_status = "200"
    if result.function_error:
        access.integration_error = f"The Lambda function returned an error ({result.function_error})"
        return access.gateway_error(INTERNAL_ERROR)
    translated = translate_response(result.payload)
    if translated is None:
        access.integration_error = "The Lambda function answered a malformed response"
        return access.gateway_error(INTERNAL_ERROR)
    return translated


# --- Access logs -------------------------------------------------------------


@dataclass
class AccessRecord:
    """What one request's access-log line may tell, filled in as the request is served."""

    request_id: str
    started: float
    route_key: str = "-"
    integration_status: str = "-"
    integration_latency_ms: int | None = None
    integration_error: str = "-"
    error_message: str = "-"

    def gateway_error(self, answer: tuple[int, str]) -> Response:
        """The gateway's own answer, remembered as `$context.error.message`."""
        self.error_message = answer[1]
        return _message(answer)


def access_log_line(fmt: str, values: dict[str, str]) -> str:
    """`fmt` with each `$context.x` replaced (longest names first); unknown ones become `-`."""
    def substitute(found: re.Match[str]) -> str:
        value = values.get(found.group(0)[len("$context."):], "-")
        # Inside a JSON format the value sits in a string: keep it valid.
        return json.dumps(value)[1:-1]

    return re.sub(r"\$context\.[A-Za-z0-9_.]+[A-Za-z0-9_]", substitute, fmt)


def write_access_log(account_id: str, region: str, stage: Stage, request: Request, response: Response,
                     access: AccessRecord) -> None:
    """One line per request into the stage's `AccessLogSettings` log group, as API Gateway writes it."""
    settings = stage.access_log_settings or {}
    destination, fmt = settings.get("destinationArn"), settings.get("format")
    if not destination or not fmt:
        return
    # arn:aws:logs:{region}:{account}:log-group:{name}[:*]
    parts = destination.split(":")
    if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
        return
    group = parts[6]
    latency_ms = int((time.time() - access.started) * 1000)
    values = {
        "requestId": access.request_id,
        "extendedRequestId": access.request_id,
        "identity.sourceIp": request.remote_addr or "127.0.0.1",
        "identity.userAgent": request.headers.get("User-Agent", "-"),
        "requestTime": _request_time(access.started),
        "requestTimeEpoch": str(int(access.started * 1000)),
        "httpMethod": request.method,
        "path": request.path,
        "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "routeKey": access.route_key,
        "stage": stage.name,
        "status": str(response.status_code),
        "responseLatency": str(latency_ms),
        "responseLength": str(len(response.get_data())),
        "integrationLatency": "-" if access.integration_latency_ms is None else str(access.integration_latency_ms),
        "integrationStatus": access.integration_status,
        "integrationErrorMessage": access.integration_error,
        "integration.error": access.integration_error,
        "integration.status": access.integration_status,
        "error.message": access.error_message,
    }
    line = access_log_line(fmt, values)
    backend = logs_backends[parts[4] or account_id][parts[3] or region]
    event = {"timestamp": int(access.started * 1000), "message": line}
    with _ACCESS_LOG_LOCK:
        if group not in backend.groups:
            # On AWS the deploy fails when the group is missing; here the line is dropped.
            return
        stream = f"{stage.name.replace('$', '')}-access"
        backend.ensure_log_stream(group, stream)
        backend.put_log_events(group, stream, [event])


_ACCESS_LOG_LOCK = threading.Lock()
