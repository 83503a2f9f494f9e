"""The local AWS serves HTTP APIs and CloudFront distributions as AWS would.

Starts `tools/local-aws/run --port 0`, builds APIs and distributions with boto3
(or deploys the real `templates/pixel-prompt.yaml`), and sends requests the way
a browser would: by host (`{apiId}.execute-api.localhost`,
`{id}.cloudfront.localhost`, given as a `Host:` header so the system resolver
plays no part) and once by path. Lambda-backed routes run a tiny Python
`bootstrap` that speaks the Runtime API. Route matching and the bucket-policy
evaluator are also checked as pure functions. Run: `.venv/bin/pytest tools/local-aws`.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest

from harness import (
    ACCOUNT,
    REGION,
    TEMPLATE_PATH,
    control,
    deploy,
    outputs,
    template_parameters,
)
from localaws.edge import path_pattern_matches, policy_allows
from localaws.gateway import access_log_line, match_route

ALLOWED_ORIGIN = "http://localhost:5173"

# A function that answers by the request path, speaking the Runtime API with urllib.
BOOTSTRAP = r'''#!/usr/bin/env python3
import json, os, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"


def handle(event):
    path = event.get("rawPath", "")
    if path.endswith("/plain"):
        return {"hello": "world"}
    if path.endswith("/malformed"):
        return {"statusCode": "teapot"}
    if path.endswith("/fail"):
        raise RuntimeError("the function failed")
    if path.endswith("/hold"):
        urllib.request.urlopen(os.environ["RELEASE_URL"]).read()
    if path.endswith("/count"):
        with open(os.environ["COUNT_FILE"], "a") as counter:
            counter.write("1\n")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "access-control-allow-origin": "*", "x-function": "echo"},
        "cookies": ["session=1; Path=/"],
        "body": json.dumps(event),
    }


while True:
    with urllib.request.urlopen(API + "next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(response.read())
    try:
        url, answer = API + request_id + "/response", handle(event)
    except Exception as err:
        url, answer = API + request_id + "/error", {"errorMessage": str(err), "errorType": type(err).__name__}
    urllib.request.urlopen(urllib.request.Request(url, data=json.dumps(answer).encode(), method="POST")).read()
'''


def bootstrap_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100755 << 16
        archive.writestr(info, BOOTSTRAP)
    return buffer.getvalue()


# --- Pure functions ----------------------------------------------------------

ROUTES = [
    "GET /pets/dog/1",
    "GET /pets/dog/{id}",
    "GET /pets/{proxy+}",
    "ANY /{proxy+}",
    "ANY /things",
    "POST /things",
    "GET /",
    "$default",
]


@pytest.mark.parametrize(
    ("method", "path", "route_key", "parameters"),
    [
        ("GET", "/pets/dog/1", "GET /pets/dog/1", {}),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
        ("GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
        ("POST", "/pets/dog/1", "ANY /{proxy+}", {"proxy": "pets/dog/1"}),
        ("POST", "/things", "POST /things", {}),
        ("DELETE", "/things", "ANY /things", {}),
        ("GET", "/", "GET /", {}),
        ("POST", "/", "$default", {}),
        ("get", "/pets/dog/1", "GET /pets/dog/1", {}),
        ("GET", "/pets/dog/a%20b", "GET /pets/dog/{id}", {"id": "a b"}),
    ],
)
def test_route_matching_picks_the_most_specific_route(method: str, path: str, route_key: str, parameters: dict[str, str]) -> None:
    matched = match_route(ROUTES, method, path)
    assert matched is not None
    assert (matched.route_key, matched.path_parameters) == (route_key, parameters)


@pytest.mark.parametrize(
    ("routes", "method", "path"),
    [
        (["GET /pets/{id}"], "GET", "/pets"),  # a parameter needs a segment
        (["GET /pets/{id}"], "GET", "/pets/1/2"),
        (["GET /pets/{proxy+}"], "GET", "/pets/"),  # greedy needs at least one segment
        (["GET /pets"], "POST", "/pets"),
        (["GET /pets"], "GET", "/Pets"),  # paths are case-sensitive
        ([], "GET", "/"),
    ],
)
def test_route_matching_without_a_match(routes: list[str], method: str, path: str) -> None:
    assert match_route(routes, method, path) is None


DISTRIBUTION_ARN = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2EXAMPLE"
OTHER_ARN = f"arn:aws:cloudfront::{ACCOUNT}:distribution/EOTHER"
TEMPLATE_POLICY = {
    "Statement": [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": ["arn:aws:s3:::b/site/*", "arn:aws:s3:::b/images/*"],
            "Condition": {"StringEquals": {"AWS:SourceArn": DISTRIBUTION_ARN}},
        },
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::b",
            "Condition": {"StringEquals": {"AWS:SourceArn": DISTRIBUTION_ARN}},
        },
    ]
}


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


CF = "cloudfront.amazonaws.com"
ALLOW_CF = {"Effect": "Allow", "Principal": {"Service": CF}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}


@pytest.mark.parametrize(
    ("policy", "service", "action", "resource", "source_arn", "allowed"),
    [
        (TEMPLATE_POLICY, CF, "s3:GetObject", "arn:aws:s3:::b/images/x.png", DISTRIBUTION_ARN, True),
        (TEMPLATE_POLICY, CF, "s3:GetObject", "arn:aws:s3:::b/jobs/j.json", DISTRIBUTION_ARN, False),
        (TEMPLATE_POLICY, CF, "s3:GetObject", "arn:aws:s3:::b/ratelimit/c", DISTRIBUTION_ARN, False),
        (TEMPLATE_POLICY, CF, "s3:GetObject", "arn:aws:s3:::b/images/x.png", OTHER_ARN, False),
        (TEMPLATE_POLICY, CF, "s3:GetObject", "arn:aws:s3:::b/site/index.html", DISTRIBUTION_ARN, True),
        (TEMPLATE_POLICY, CF, "s3:ListBucket", "arn:aws:s3:::b", DISTRIBUTION_ARN, True),
        (TEMPLATE_POLICY, CF, "s3:ListBucket", "arn:aws:s3:::b", OTHER_ARN, False),
        (TEMPLATE_POLICY, None, "s3:GetObject", "arn:aws:s3:::b/images/x.png", DISTRIBUTION_ARN, False),
        (None, CF, "s3:GetObject", "arn:aws:s3:::b/x", DISTRIBUTION_ARN, False),
        (_policy(ALLOW_CF), CF, "S3:GETOBJECT", "arn:aws:s3:::b/x", DISTRIBUTION_ARN, True),  # actions ignore case
        (_policy(ALLOW_CF), CF, "s3:GetObject", "arn:aws:s3:::B/x", DISTRIBUTION_ARN, False),  # resources don't
        (_policy(ALLOW_CF, {**ALLOW_CF, "Effect": "Deny", "Resource": "arn:aws:s3:::b/secret/*"}), CF, "s3:GetObject",
         "arn:aws:s3:::b/secret/k", DISTRIBUTION_ARN, False),  # an explicit Deny wins
        (_policy({**ALLOW_CF, "Action": "s3:Get*"}), CF, "s3:GetObject", "arn:aws:s3:::b/x", DISTRIBUTION_ARN, True),
        (_policy({**ALLOW_CF, "Resource": "arn:aws:s3:::b/image?.png"}), CF, "s3:GetObject", "arn:aws:s3:::b/images.png",
         DISTRIBUTION_ARN, True),
        (_policy({**ALLOW_CF, "Principal": "*"}), None, "s3:GetObject", "arn:aws:s3:::b/x", DISTRIBUTION_ARN, True),
        (_policy({**ALLOW_CF, "Principal": {"AWS": "*"}}), CF, "s3:GetObject", "arn:aws:s3:::b/x", DISTRIBUTION_ARN, True),
        (_policy({**ALLOW_CF, "Principal": {"Service": "lambda.amazonaws.com"}}), CF, "s3:GetObject", "arn:aws:s3:::b/x",
         DISTRIBUTION_ARN, False),
        (_policy({**ALLOW_CF, "Condition": {"StringLike": {"aws:sourcearn": "arn:aws:cloudfront::*:distribution/E2*"}}}), CF,
         "s3:GetObject", "arn:aws:s3:::b/x", DISTRIBUTION_ARN, True),  # keys ignore case
        (_policy({**ALLOW_CF, "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:cloudfront::*:distribution/*"}}}), CF,
         "s3:GetObject", "arn:aws:s3:::b/x", DISTRIBUTION_ARN, True),
        (_policy({**ALLOW_CF, "Condition": {"ArnEquals": {"AWS:SourceArn": [OTHER_ARN, DISTRIBUTION_ARN]}}}), CF,
         "s3:GetObject", "arn:aws:s3:::b/x", DISTRIBUTION_ARN, True),  # any value matches
        (_policy({**ALLOW_CF, "Condition": {"ArnEquals": {"AWS:SourceArn": OTHER_ARN}}}), CF, "s3:GetObject",
         "arn:aws:s3:::b/x", DISTRIBUTION_ARN, False),
        (_policy({**ALLOW_CF, "Condition": {"Bool": {"aws:SecureTransport": True}}}), CF, "s3:GetObject",
         "arn:aws:s3:::b/x", DISTRIBUTION_ARN, True),
        (_policy({**ALLOW_CF, "Condition": {"StringEquals": {"AWS:SourceArn": DISTRIBUTION_ARN},
                                            "Bool": {"aws:SecureTransport": "false"}}}), CF, "s3:GetObject",
         "arn:aws:s3:::b/x", DISTRIBUTION_ARN, False),  # every operator must hold
        (_policy({**ALLOW_CF, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}), CF, "s3:GetObject",
         "arn:aws:s3:::b/x", DISTRIBUTION_ARN, False),  # a missing key doesn't match
        (_policy(ALLOW_CF, {**ALLOW_CF, "Effect": "Deny", "Condition": {"StringNotEquals": {"AWS:SourceArn": DISTRIBUTION_ARN}}}),
         CF, "s3:GetObject", "arn:aws:s3:::b/x", OTHER_ARN, False),
        (_policy({**ALLOW_CF, "Condition": {"NumericLessThan": {"s3:max-keys": "10"}}}), CF, "s3:GetObject",
         "arn:aws:s3:::b/x", DISTRIBUTION_ARN, False),  # an unknown operator never holds
    ],
)
def test_bucket_policy_evaluation(
    policy: dict[str, Any] | None, service: str | None, action: str, resource: str, source_arn: str, allowed: bool
) -> None:
    context = {"aws:SourceArn": source_arn, "aws:SecureTransport": "true"}
    assert policy_allows(policy, service, action, resource, context) is allowed


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("images/*", "/images/a/b.png", True),
        ("/images/*", "/images/a.png", True),
        ("images/*", "/Images/a.png", False),
        ("*.js", "/assets/app.js", True),
        ("/a?c", "/abc", True),
        ("/a?c", "/abbc", False),
        ("images/*", "/images", False),
    ],
)
def test_cloudfront_path_patterns(pattern: str, path: str, matches: bool) -> None:
    assert path_pattern_matches(pattern, path) is matches


# --- Over HTTP ---------------------------------------------------------------


@pytest.fixture(scope="module")
def port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(port: int, host: str, method: str, path: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> Reply:
    """One request to the local AWS with `Host: {host}:{port}`, headers sent in order (repeats kept)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", f"{host}:{port}")
        for name, value in headers or []:
            connection.putheader(name, value)
        if body:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return Reply(response.status, response.msg, response.read())
    finally:
        connection.close()


def api_host(api_id: str) -> str:
    return f"{api_id}.execute-api.localhost"


class ReleaseGate:
    """A URL the test function blocks on until the test releases it (no sleeps)."""

    def __init__(self) -> None:
        self.released = threading.Event()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gate.released.wait(60)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"go")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/release"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def gate() -> Iterator[ReleaseGate]:
    gate = ReleaseGate()
    yield gate
    gate.released.set()
    gate.server.shutdown()


@pytest.fixture(scope="module")
def count_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("counts") / "invocations"


@pytest.fixture(scope="module")
def function_arn(aws: Any, gate: ReleaseGate, count_file: Path) -> str:
    role = aws("iam").create_role(
        RoleName=f"planes-{uuid.uuid4().hex[:8]}",
        AssumeRolePolicyDocument=json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]
    created = aws("lambda").create_function(
        FunctionName="planes-echo", Runtime="provided.al2023", Handler="bootstrap", Role=role,
        Code={"ZipFile": bootstrap_zip()}, Timeout=60,
        Environment={"Variables": {"RELEASE_URL": gate.url, "COUNT_FILE": str(count_file)}},
    )
    return str(created["FunctionArn"])


def create_api(
    aws: Any,
    function_arn: str,
    routes: list[str],
    *,
    cors: dict[str, Any] | None = None,
    stages: list[dict[str, Any]] | None = None,
    permitted: bool = True,
    timeout_ms: int = 29000,
) -> str:
    """An HTTP API whose routes all call `function_arn`; returns its id."""
    apis = aws("apigatewayv2")
    api_id = apis.create_api(Name=f"planes-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP", **({"CorsConfiguration": cors} if cors else {}))["ApiId"]
    integration = apis.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn, PayloadFormatVersion="2.0", TimeoutInMillis=timeout_ms,
    )["IntegrationId"]
    for route_key in routes:
        apis.create_route(ApiId=api_id, RouteKey=route_key, Target=f"integrations/{integration}")
    for stage in stages or [{"StageName": "$default", "AutoDeploy": True}]:
        apis.create_stage(ApiId=api_id, **stage)
    if permitted:
        permit(aws, function_arn, api_id)
    return str(api_id)


def permit(aws: Any, function_arn: str, api_id: str) -> None:
    aws("lambda").add_permission(
        FunctionName=function_arn, StatementId=f"api-{api_id}", Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*",
    )


@pytest.fixture(scope="module")
def echo_api(aws: Any, function_arn: str) -> str:
    return create_api(
        aws, function_arn,
        ["GET /echo/{id}", "POST /echo/{id}", "GET /plain", "GET /malformed", "GET /fail", "GET /hold"],
        stages=[{"StageName": "$default", "AutoDeploy": True}, {"StageName": "v1", "AutoDeploy": True}, {"StageName": "draft"}],
    )


def test_payload_2_0_event_shape(port: int, echo_api: str) -> None:
    before = time.time()
    reply = request(port, api_host(echo_api), "GET", "/echo/a%20b?x=1&x=2&flag", headers=[
        ("User-Agent", "planes-test/1.0"), ("X-Repeated", "one"), ("X-Repeated", "two"),
        ("Cookie", "a=1; b=2"), ("X-Forwarded-For", "203.0.113.9"),
    ])
    assert reply.status == 200, reply.body
    event = reply.json()
    assert {k: event[k] for k in ("version", "routeKey", "rawPath", "rawQueryString", "isBase64Encoded")} == {
        "version": "2.0", "routeKey": "GET /echo/{id}", "rawPath": "/echo/a%20b", "rawQueryString": "x=1&x=2&flag", "isBase64Encoded": False,
    }
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["queryStringParameters"] == {"x": "1,2", "flag": ""}
    assert event["pathParameters"] == {"id": "a b"}
    assert "body" not in event
    headers = event["headers"]
    assert all(name == name.lower() for name in headers)
    assert headers["x-repeated"] == "one,two"
    assert headers["user-agent"] == "planes-test/1.0"
    assert "cookie" not in headers
    context = event["requestContext"]
    assert {k: context[k] for k in ("accountId", "apiId", "domainName", "domainPrefix", "routeKey", "stage")} == {
        "accountId": ACCOUNT, "apiId": echo_api, "domainName": f"{echo_api}.execute-api.localhost",
        "domainPrefix": echo_api, "routeKey": "GET /echo/{id}", "stage": "$default",
    }
    # sourceIp is the caller's real address, not what X-Forwarded-For claims.
    assert context["http"] == {
        "method": "GET", "path": "/echo/a%20b", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "planes-test/1.0",
    }
    assert context["requestId"] == reply.headers["apigw-requestid"]
    assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000", context["time"])
    assert before * 1000 - 1000 <= context["timeEpoch"] <= time.time() * 1000 + 1000
    # The function's answer: status, headers and each cookie as its own Set-Cookie.
    assert reply.headers["x-function"] == "echo"
    assert reply.headers.get_all("Set-Cookie") == ["session=1; Path=/"]


def test_request_bodies_text_and_binary(port: int, echo_api: str) -> None:
    text = request(port, api_host(echo_api), "POST", "/echo/1", b'{"prompt":"a cat"}', [("Content-Type", "application/json")]).json()
    assert (text["body"], text["isBase64Encoded"]) == ('{"prompt":"a cat"}', False)
    binary = request(port, api_host(echo_api), "POST", "/echo/1", b"\x89PNG\x00\xff", [("Content-Type", "image/png")]).json()
    assert (binary["body"], binary["isBase64Encoded"]) == ("iVBORwD/", True)


def test_by_path_and_by_stage(endpoint: str, port: int, echo_api: str) -> None:
    with urllib.request.urlopen(f"{endpoint}/_aws/execute-api/{echo_api}/echo/7", timeout=30) as response:
        event = json.loads(response.read())
    assert (event["routeKey"], event["rawPath"], event["pathParameters"]) == ("GET /echo/{id}", "/echo/7", {"id": "7"})
    staged = request(port, api_host(echo_api), "GET", "/v1/echo/8").json()
    assert (staged["requestContext"]["stage"], staged["rawPath"], staged["pathParameters"]) == ("v1", "/v1/echo/8", {"id": "8"})
    # A stage that was never deployed doesn't serve; without a `$default` route nothing else matches.
    for path in ("/draft/echo/9", "/nowhere"):
        reply = request(port, api_host(echo_api), "GET", path)
        assert (reply.status, reply.json()) == (404, {"message": "Not Found"})
        assert reply.headers["apigw-requestid"]
    assert request(port, api_host("nosuchapi"), "GET", "/echo/1").status == 404


def test_function_answers_and_failures(port: int, echo_api: str) -> None:
    plain = request(port, api_host(echo_api), "GET", "/plain")
    assert (plain.status, plain.headers["Content-Type"], plain.json()) == (200, "application/json", {"hello": "world"})
    for path in ("/fail", "/malformed"):
        reply = request(port, api_host(echo_api), "GET", path)
        assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"}), path


def test_missing_invoke_permission_is_a_500(aws: Any, port: int, function_arn: str) -> None:
    # The function already lets other APIs invoke it, each by its own SourceArn.
    api_id = create_api(aws, function_arn, ["GET /echo/{id}", "POST /echo/{id}"], permitted=False)
    refused = request(port, api_host(api_id), "GET", "/echo/1")
    assert (refused.status, refused.json()) == (500, {"message": "Internal Server Error"})
    aws("lambda").add_permission(
        FunctionName=function_arn, StatementId=f"post-{api_id}", Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/$default/POST/echo/*",
    )
    assert request(port, api_host(api_id), "POST", "/echo/1", b"{}").status == 200
    assert request(port, api_host(api_id), "GET", "/echo/1").status == 500
    permit(aws, function_arn, api_id)
    assert request(port, api_host(api_id), "GET", "/echo/1").status == 200


def test_cors_preflight_and_response_headers(aws: Any, port: int, function_arn: str) -> None:
    cors = {"AllowOrigins": [ALLOWED_ORIGIN], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["content-type", "x-correlation-id"],
            "ExposeHeaders": ["x-correlation-id"], "MaxAge": 600}
    api_id = create_api(aws, function_arn, ["POST /echo/{id}"], cors=cors)
    preflight = [("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "content-type")]
    allowed = request(port, api_host(api_id), "OPTIONS", "/echo/1", headers=[("Origin", ALLOWED_ORIGIN), *preflight])
    assert allowed.status == 204 and allowed.body == b""
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert allowed.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert allowed.headers["Access-Control-Allow-Headers"] == "content-type,x-correlation-id"
    assert allowed.headers["Access-Control-Max-Age"] == "600"
    refused = request(port, api_host(api_id), "OPTIONS", "/echo/1", headers=[("Origin", "https://evil.example"), *preflight])
    assert refused.status == 204 and refused.headers["Access-Control-Allow-Origin"] is None

    # The function sends `access-control-allow-origin: *`; the gateway's configuration replaces it.
    answered = request(port, api_host(api_id), "POST", "/echo/1", b"{}", [("Origin", ALLOWED_ORIGIN), ("Content-Type", "application/json")])
    assert answered.status == 200
    assert answered.headers.get_all("Access-Control-Allow-Origin") == [ALLOWED_ORIGIN]
    assert answered.headers["Access-Control-Expose-Headers"] == "x-correlation-id"
    foreign = request(port, api_host(api_id), "POST", "/echo/1", b"{}", [("Origin", "https://evil.example")])
    assert foreign.status == 200 and foreign.headers["Access-Control-Allow-Origin"] is None


def test_stage_throttling_answers_429_without_invoking(aws: Any, port: int, function_arn: str, count_file: Path) -> None:
    # A rate of 0 never refills the bucket, so the outcome doesn't depend on timing.
    stage = {
        "StageName": "$default", "AutoDeploy": True,
        "DefaultRouteSettings": {"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 0},
        "RouteSettings": {"GET /free/count": {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 100}},
    }
    api_id = create_api(aws, function_arn, ["GET /count", "GET /free/count"], stages=[stage])
    count_file.unlink(missing_ok=True)
    replies = [request(port, api_host(api_id), "GET", "/count") for _ in range(3)]
    assert [r.status for r in replies] == [200, 200, 429]
    assert replies[2].json() == {"message": "Too Many Requests"}
    assert count_file.read_text().count("1") == 2
    # A route's own RouteSettings override the stage default.
    assert [request(port, api_host(api_id), "GET", "/free/count").status for _ in range(3)] == [200, 200, 200]


def test_integration_timeout_is_a_503(endpoint: str, port: int, echo_api: str, gate: ReleaseGate) -> None:
    control(endpoint, "config", {"integration_timeout_cap_seconds": 0.5})
    try:
        # The function blocks on the gate, so it cannot answer within the limit.
        reply = request(port, api_host(echo_api), "GET", "/hold")
    finally:
        gate.released.set()
        control(endpoint, "config", {"integration_timeout_cap_seconds": 30})
    assert (reply.status, reply.json()) == (503, {"message": "Service Unavailable"})


# --- The real template --------------------------------------------------------


@pytest.fixture
def pixel_stack(aws: Any) -> dict[str, str]:
    """The repository's template deployed as its own stack, its function the echo bootstrap."""
    suffix = uuid.uuid4().hex[:8]
    bucket, key = f"planes-artifacts-{suffix}", "lambda/echo.zip"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key=key, Body=bootstrap_zip())
    body = TEMPLATE_PATH.read_text()
    params = template_parameters(body, ArtifactBucket=bucket, ArtifactKey=key, AllowedOrigins=f"{ALLOWED_ORIGIN},https://example.org")
    described = deploy(aws("cloudformation"), f"planes-{suffix}", body, params, "CREATE")
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    return outputs(described)


def test_template_api_routes_cors_and_permission(port: int, pixel_stack: dict[str, str]) -> None:
    api_id = pixel_stack["ApiEndpoint"].split("//", 1)[1].split(".", 1)[0]
    reply = request(port, api_host(api_id), "GET", "/status/job-1", headers=[("Origin", ALLOWED_ORIGIN)])
    assert reply.status == 200, reply.body
    assert (reply.json()["routeKey"], reply.json()["pathParameters"]) == ("GET /status/{jobId}", {"jobId": "job-1"})
    assert reply.headers.get_all("Access-Control-Allow-Origin") == [ALLOWED_ORIGIN]
    assert reply.headers["Access-Control-Expose-Headers"] == "x-correlation-id"
    assert request(port, api_host(api_id), "GET", "/no/such/route").json()["routeKey"] == "$default"
    preflight = request(port, api_host(api_id), "OPTIONS", "/generate", headers=[("Origin", ALLOWED_ORIGIN), ("Access-Control-Request-Method", "POST")])
    assert (preflight.status, preflight.headers["Access-Control-Allow-Methods"], preflight.headers["Access-Control-Max-Age"]) == (204, "GET,POST,OPTIONS", "600")


def test_template_api_allows_the_stacks_own_distribution(port: int, pixel_stack: dict[str, str]) -> None:
    """The page the distribution serves may call the API: on AWS as `https://{domain}`,
    here also as the local form the page is opened at."""
    api_id = pixel_stack["ApiEndpoint"].split("//", 1)[1].split(".", 1)[0]
    label = pixel_stack["CloudFrontDomain"].split(".", 1)[0]
    for origin in (f"https://{pixel_stack['CloudFrontDomain']}", f"http://{label.lower()}.cloudfront.localhost:{port}"):
        preflight = request(port, api_host(api_id), "OPTIONS", "/generate", headers=[("Origin", origin), ("Access-Control-Request-Method", "POST")])
        assert preflight.headers.get("Access-Control-Allow-Origin") == origin, origin
        answer = request(port, api_host(api_id), "GET", "/gallery/list", headers=[("Origin", origin)])
        assert answer.headers.get_all("Access-Control-Allow-Origin") == [origin], origin
    for foreign in ("https://evil.example", f"http://{label.lower()}.cloudfront.localhost:{port + 1}", f"http://evil.cloudfront.localhost:{port}"):
        answer = request(port, api_host(api_id), "GET", "/gallery/list", headers=[("Origin", foreign)])
        assert answer.headers.get("Access-Control-Allow-Origin") is None, foreign


def test_template_bucket_policy_grants_cloudfront_the_site_and_images_only(aws: Any, pixel_stack: dict[str, str]) -> None:
    """The bucket policy the real template deploys, evaluated for CloudFront (as this
    distribution and as another one): the site and the images, never job state or
    rate-limit counters; ListBucket so that a missing key is a 404."""
    bucket = pixel_stack["ImagesBucket"]
    policy = json.loads(aws("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    own = f"arn:aws:cloudfront::{ACCOUNT}:distribution/{pixel_stack['DistributionId']}"
    table = [
        ("s3:GetObject", f"{bucket}/site/index.html", own, True),
        ("s3:GetObject", f"{bucket}/site/assets/index-AbCd1234.js", own, True),
        ("s3:GetObject", f"{bucket}/images/job/0.png", own, True),
        ("s3:ListBucket", bucket, own, True),
        ("s3:GetObject", f"{bucket}/jobs/job.json", own, False),
        ("s3:GetObject", f"{bucket}/ratelimit/global/2026-11-29T10", own, False),
        ("s3:GetObject", f"{bucket}/sites/x", own, False),
        ("s3:PutObject", f"{bucket}/site/index.html", own, False),
        ("s3:DeleteObject", f"{bucket}/images/job/0.png", own, False),
        ("s3:GetObject", f"{bucket}/site/index.html", OTHER_ARN, False),
        ("s3:ListBucket", bucket, OTHER_ARN, False),
    ]
    for action, resource, source_arn, allowed in table:
        context = {"aws:SourceArn": source_arn, "aws:SourceAccount": ACCOUNT, "aws:SecureTransport": "true"}
        assert policy_allows(policy, CF, action, f"arn:aws:s3:::{resource}", context) is allowed, (action, resource, source_arn)
    # Over plain HTTP everything is denied, to everyone.
    insecure = {"aws:SourceArn": own, "aws:SecureTransport": "false"}
    assert policy_allows(policy, CF, "s3:GetObject", f"arn:aws:s3:::{bucket}/site/index.html", insecure) is False


def test_template_paid_routes_throttled_apart_and_access_logged(aws: Any, port: int, pixel_stack: dict[str, str]) -> None:
    api_id = pixel_stack["ApiEndpoint"].split("//", 1)[1].split(".", 1)[0]
    # The stack's paid routes: a burst of 1 (the parameter's minimum), 0.01 per second.
    for path in ("/generate", "/enhance"):
        assert [request(port, api_host(api_id), "POST", path, b"{}").status for _ in range(2)] == [200, 429]
    assert [request(port, api_host(api_id), "GET", "/status/job-1").status for _ in range(3)] == [200, 200, 200]
    request(port, api_host(api_id), "GET", "/no/such/route")

    events = aws("logs").filter_log_events(logGroupName=pixel_stack["AccessLogGroup"])["events"]
    lines = [json.loads(event["message"]) for event in events]
    assert len(lines) == 8, lines
    summary = sorted((line["routeKey"], line["status"]) for line in lines)
    assert summary == sorted([
        ("POST /generate", "200"), ("POST /generate", "429"), ("POST /enhance", "200"), ("POST /enhance", "429"),
        ("GET /status/{jobId}", "200"), ("GET /status/{jobId}", "200"), ("GET /status/{jobId}", "200"), ("$default", "200"),
    ])
    throttled = next(line for line in lines if line["status"] == "429")
    assert (throttled["error"], throttled["integrationStatus"], throttled["integrationLatencyMs"]) == ("Too Many Requests", "-", "-")
    served = next(line for line in lines if line["routeKey"] == "GET /status/{jobId}")
    assert served["ip"] == "127.0.0.1" and served["integrationStatus"] == "200" and served["error"] == "-"
    assert int(served["latencyMs"]) >= int(served["integrationLatencyMs"]) >= 0
    assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000", served["time"])


def test_access_log_format_substitution() -> None:
    fmt = '{"id":"$context.requestId","route":"$context.routeKey","msg":"$context.error.message","x":"$context.nope"} $context.status'
    line = access_log_line(fmt, {"requestId": "abc=", "routeKey": "GET /a", "error.message": 'say "hi"', "status": "200"})
    assert json.loads(line.rsplit(" ", 1)[0]) == {"id": "abc=", "route": "GET /a", "msg": 'say "hi"', "x": "-"}
    assert line.endswith(" 200")


def test_template_distribution_serves_the_site_and_images(aws: Any, endpoint: str, port: int, pixel_stack: dict[str, str]) -> None:
    s3 = aws("s3")
    bucket, distribution = pixel_stack["ImagesBucket"], pixel_stack["DistributionId"]
    host = f"{distribution.lower()}.cloudfront.localhost"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    job_state, counter = b'{"secret": "job state"}', b"client 203.0.113.7: 3"
    s3.put_object(Bucket=bucket, Key="images/x.png", Body=png, ContentType="image/png", CacheControl="public, max-age=31536000, immutable")
    s3.put_object(Bucket=bucket, Key="jobs/j.json", Body=job_state, ContentType="application/json")
    s3.put_object(Bucket=bucket, Key="ratelimit/c", Body=counter)
    private_paths = ("/jobs/j.json", "/ratelimit/c", "/images/../jobs/j.json", "/site/../ratelimit/c", "/images/%2e%2e/jobs/j.json")

    # Before any page is published, a path outside images/ is a missing key under
    # site/ (404: CloudFront may list), and private objects are never served.
    for path in private_paths:
        refused = request(port, host, "GET", path)
        assert refused.status == 404, path
        assert b"<Code>NoSuchKey</Code>" in refused.body and job_state not in refused.body and counter not in refused.body, path

    page = b"<!doctype html><title>Pixel Prompt</title>"
    script = b"console.log('app')"
    s3.put_object(Bucket=bucket, Key="site/index.html", Body=page, ContentType="text/html; charset=utf-8", CacheControl="no-cache")
    s3.put_object(Bucket=bucket, Key="site/assets/index-AbCd1234.js", Body=script, ContentType="text/javascript; charset=utf-8",
                  CacheControl="public, max-age=31536000, immutable")

    root = request(port, host, "GET", "/")
    assert (root.status, root.body, root.headers["Cache-Control"]) == (200, page, "no-cache")
    assert root.headers["Content-Type"] == "text/html; charset=utf-8"
    asset = request(port, host, "GET", "/assets/index-AbCd1234.js")
    assert (asset.status, asset.body, asset.headers["Cache-Control"]) == (200, script, "public, max-age=31536000, immutable")
    # Client-side routes load the app with 200.
    for route in ("/gallery", "/gallery/4f1c2d3e-0000-4000-8000-000000000000"):
        served = request(port, host, "GET", route)
        assert (served.status, served.body) == (200, page), route

    served = request(port, host, "GET", "/images/x.png")
    assert (served.status, served.body) == (200, png)
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert served.headers["Content-Length"] == str(len(png))
    assert served.headers["ETag"] and served.headers["Last-Modified"]
    assert served.headers["X-Cache"] == "Miss from cloudfront"
    assert served.headers["Via"].endswith(".cloudfront.net (CloudFront)")
    head = request(port, host, "HEAD", "/images/x.png")
    assert (head.status, head.body, head.headers["Content-Length"]) == (200, b"", str(len(png)))
    unchanged = request(port, host, "GET", "/images/x.png", headers=[("If-None-Match", served.headers["ETag"])])
    assert (unchanged.status, unchanged.body) == (304, b"")
    # The 404 -> /index.html mapping is distribution-wide: a missing image gets the page, not a PNG.
    missing = request(port, host, "GET", "/images/missing.png")
    assert (missing.status, missing.body) == (200, page)

    # With the page published, private paths get the page: never the object.
    for path in private_paths:
        answer = request(port, host, "GET", path)
        assert (answer.status, answer.body) == (200, page), path
    assert request(port, host, "POST", "/images/x.png", b"x").status == 403

    # The domain label works as well as the id, and so does the path form.
    label = pixel_stack["CloudFrontDomain"].split(".", 1)[0]
    assert request(port, f"{label}.cloudfront.localhost", "GET", "/images/x.png").body == png
    with urllib.request.urlopen(f"{endpoint}/_aws/cloudfront/{label}/images/x.png", timeout=30) as response:
        assert response.read() == png


# --- A site distribution built with boto3 --------------------------------------


def site_distribution(aws: Any, **overrides: Any) -> dict[str, Any]:
    """A distribution over two OAC-signed buckets whose policy grants CloudFront GetObject and ListBucket."""
    s3, cloudfront = aws("s3"), aws("cloudfront")
    suffix = uuid.uuid4().hex[:8]
    site, assets = f"site-{suffix}", f"assets-{suffix}"
    for bucket in (site, assets):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=site, Key="web/index.html", Body=b"<h1>index</h1>", ContentType="text/html", CacheControl="no-cache")
    s3.put_object(Bucket=site, Key="web/about.html", Body=b"<h1>about</h1>", ContentType="text/html")
    s3.put_object(Bucket=assets, Key="assets/app.js", Body=b"console.log(1)", ContentType="text/javascript")
    oac = cloudfront.create_origin_access_control(OriginAccessControlConfig={
        "Name": f"site-{suffix}", "SigningProtocol": "sigv4", "SigningBehavior": "always", "OriginAccessControlOriginType": "s3",
    })["OriginAccessControl"]["Id"]

    def origin(origin_id: str, bucket: str, path: str = "") -> dict[str, Any]:
        return {"Id": origin_id, "DomainName": f"{bucket}.s3.{REGION}.amazonaws.com", "OriginPath": path,
                "OriginAccessControlId": oac, "S3OriginConfig": {"OriginAccessIdentity": ""}}

    config = {
        "CallerReference": suffix, "Comment": "site", "Enabled": True, "DefaultRootObject": "index.html",
        "Origins": {"Quantity": 2, "Items": [origin("site", site, "/web"), origin("assets", assets)]},
        "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
        "CacheBehaviors": {"Quantity": 1, "Items": [{"PathPattern": "assets/*", "TargetOriginId": "assets", "ViewerProtocolPolicy": "https-only",
                                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}]},
        "CustomErrorResponses": {"Quantity": 1, "Items": [{"ErrorCode": 404, "ResponsePagePath": "/index.html", "ResponseCode": "200"}]},
        **overrides,
    }
    distribution = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]
    for bucket in (site, assets):
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [{
            "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution["ARN"]}},
        }]}))
    return cast("dict[str, Any]", distribution)


def test_root_object_behaviours_and_custom_errors(aws: Any, port: int) -> None:
    distribution = site_distribution(aws)
    host = f"{distribution['Id'].lower()}.cloudfront.localhost"
    root = request(port, host, "GET", "/")
    assert (root.status, root.body, root.headers["Cache-Control"]) == (200, b"<h1>index</h1>", "no-cache")
    # OriginPath `/web` prefixes the key; `assets/*` goes to the other origin, which has no OriginPath.
    assert request(port, host, "GET", "/about.html").body == b"<h1>about</h1>"
    assert request(port, host, "GET", "/assets/app.js").body == b"console.log(1)"
    # DefaultRootObject applies to `/` only: `/docs/` is a missing key (404), which the
    # custom error response turns into `/index.html` with 200, like a single-page app.
    deep = request(port, host, "GET", "/docs/")
    assert (deep.status, deep.body) == (200, b"<h1>index</h1>")

    plain = site_distribution(aws, CustomErrorResponses={"Quantity": 0})
    missing = request(port, f"{plain['Id'].lower()}.cloudfront.localhost", "GET", "/docs/")
    assert missing.status == 404 and b"<Code>NoSuchKey</Code>" in missing.body


def test_disabled_and_unknown_distributions(aws: Any, port: int) -> None:
    disabled = site_distribution(aws, Enabled=False)
    assert request(port, f"{disabled['Id'].lower()}.cloudfront.localhost", "GET", "/").status == 403
    assert request(port, "enosuchdistribution.cloudfront.localhost", "GET", "/").status == 404


def test_invalidations_in_progress_until_released(aws: Any, endpoint: str) -> None:
    cloudfront = aws("cloudfront")
    distribution_id = site_distribution(aws)["Id"]

    def invalidate() -> str:
        batch = {"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": uuid.uuid4().hex}
        return str(cloudfront.create_invalidation(DistributionId=distribution_id, InvalidationBatch=batch)["Invalidation"]["Id"])

    def status(invalidation_id: str) -> str:
        return str(cloudfront.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)["Invalidation"]["Status"])

    def listed() -> dict[str, str]:
        items = cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"].get("Items", [])
        return {item["Id"]: item["Status"] for item in items}

    assert status(invalidate()) == "Completed"
    control(endpoint, "hold", {"what": "cloudfront-invalidations"})
    try:
        held = invalidate()
        assert status(held) == "InProgress"
        assert listed()[held] == "InProgress"
    finally:
        control(endpoint, "release", {"what": "cloudfront-invalidations"})
    assert status(held) == "Completed"
    assert listed()[held] == "Completed"

    control(endpoint, "config", {"cloudfront_invalidation_seconds": 600})
    try:
        assert status(invalidate()) == "InProgress"
    finally:
        assert control(endpoint, "config", {"cloudfront_invalidation_seconds": 0})["cloudfront_invalidation_seconds"] == 0
