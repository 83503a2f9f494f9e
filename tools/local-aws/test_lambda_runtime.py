"""The local AWS runs Lambda functions: tests over real HTTP with boto3.

Starts `tools/local-aws/run --port 0` and deploys tiny `bootstrap`s written in
Python that speak the Lambda Runtime API, then checks what a user of Lambda
notices: payloads, the environment a function sees, warm reuse, throttling,
timeouts, crashes, code updates, async retries into an SQS destination, the
CloudWatch log lines and that stopping the local AWS leaves no process behind.
Run: `.venv/bin/pytest tools/local-aws/test_lambda_runtime.py`.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from harness import ACCOUNT, REGION, clients, control, start_local_aws, stop, wait_until
from localaws.lambda_runtime import arn_like, statement_allows

FUNCTION_PATH = "/usr/local/bin:/usr/bin:/bin"  # the PATH instances get
STREAM_NAME = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")
REPORT_LINE = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: \d+\.\d{2} ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: (?P<memory>\d+) MB\tMax Memory Used: (?P<used>\d+) MB(?P<init>\tInit Duration: \d+\.\d{2} ms)?$"
)

# The Runtime API loop every test bootstrap shares; `handle(event, headers)` answers or raises.
RUNTIME_LOOP = '''#!/usr/bin/env python3
import json, os, sys, time, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def call(path, body=None, headers=None):
    request = urllib.request.Request(API + path, data=body, headers=headers or {},
                                     method="GET" if body is None else "POST")
    return urllib.request.urlopen(request, timeout=3600)


def serve(handle):
    while True:
        with call("/invocation/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            headers = {name: response.headers[name] for name in response.headers}
            event = json.loads(response.read())
        try:
            answer = handle(event, headers)
        except Exception as err:
            error = {"errorMessage": str(err), "errorType": type(err).__name__}
            call(f"/invocation/{request_id}/error", json.dumps(error).encode(),
                 {"Lambda-Runtime-Function-Error-Type": "Unhandled"}).close()
        else:
            call(f"/invocation/{request_id}/response", json.dumps(answer).encode()).close()
'''

ECHO = RUNTIME_LOOP + '''

VERSION = "__VERSION__"


def handle(event, headers):
    print(f"handling pid={os.getpid()} event={json.dumps(event)}", flush=True)
    if event.get("gate"):
        while not os.path.exists(event["gate"]):  # held until the test creates the file
            time.sleep(0.01)
    if event.get("sleep_forever"):
        time.sleep(3600)
    if event.get("fail"):
        raise RuntimeError(event["fail"])
    return {"pid": os.getpid(), "env": dict(os.environ), "event": event, "headers": headers,
            "version": VERSION, "cwd": os.getcwd()}


serve(handle)
'''

# Crashes at its first start (as the Rust binary does on a configuration error), serves afterwards.
CRASH_ONCE = ECHO.replace("serve(handle)\n", '''marker = os.environ["CRASH_MARKER"]
if not os.path.exists(marker):
    open(marker, "w").close()
    print("config error: PROVIDER_KEYS is not set", file=sys.stderr, flush=True)
    sys.exit(3)
serve(handle)
''')

INIT_ERROR = RUNTIME_LOOP + '''
error = {"errorType": "Config.Invalid", "errorMessage": "MODELS must list at least one model"}
call("/init/error", json.dumps(error).encode(), {"Lambda-Runtime-Function-Error-Type": "Runtime.InitError"}).close()
sys.exit(1)
'''


def echo(version: str = "1") -> str:
    return ECHO.replace("__VERSION__", version)


def zip_bootstrap(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100755 << 16
        archive.writestr(info, source)
    return buffer.getvalue()


@pytest.fixture(scope="module", autouse=True)
def python_for_bootstraps() -> None:
    if shutil.which("python3", path=FUNCTION_PATH) is None:
        pytest.fail(f"the test bootstraps need python3 on {FUNCTION_PATH}: apt-get install python3")


def start_with_launcher_env(*args: str) -> tuple[subprocess.Popen[str], str]:
    """The local AWS started with credentials and a marker in its own environment, which
    no function may inherit."""
    env = dict(os.environ, LEAK_CHECK="launcher-only", AWS_ACCESS_KEY_ID="launcher-key",
               AWS_SECRET_ACCESS_KEY="launcher-secret")
    process, url, _ = start_local_aws(*args, env=env)
    return process, url


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def instances(endpoint: str, function: str) -> list[dict[str, Any]]:
    return [i for i in control(endpoint, "lambda")["instances"] if i["function"] == function]


class Deployer:
    """Creates functions on one local AWS."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.aws = clients(endpoint, read_timeout=60)
        self.lam = self.aws("lambda")
        role = self.aws("iam").create_role(
            RoleName=f"fn-{uuid.uuid4().hex[:8]}",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        )
        self.role_arn = role["Role"]["Arn"]

    def create(self, source: str, timeout: int = 3, memory: int = 256, env: dict[str, str] | None = None,
               reserved: int | None = None) -> str:
        name = f"fn-{uuid.uuid4().hex[:10]}"
        self.lam.create_function(
            FunctionName=name, Runtime="provided.al2023", Role=self.role_arn, Handler="bootstrap",
            Code={"ZipFile": zip_bootstrap(source)}, Timeout=timeout, MemorySize=memory,
            Environment={"Variables": env or {}}, Architectures=["x86_64"],
        )
        if reserved is not None:
            self.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
        return name

    def invoke(self, name: str, event: dict[str, Any] | None = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
        response = self.lam.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
        body = response["Payload"].read()
        return response, json.loads(body) if body else None


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    process, url = start_with_launcher_env("--function-env", "EXTRA_FLAG=from-launcher",
                                   "--function-env", "OVERRIDDEN=by-launcher")
    yield url
    temp_dir = control(url, "lambda")["temp_dir"]
    stop(process)
    stderr = process.stderr.read() if process.stderr else ""
    assert process.returncode == 0, stderr
    assert temp_dir is None or not Path(temp_dir).exists(), f"{temp_dir} left behind; stderr: {stderr}"


@pytest.fixture(scope="module")
def deployer(endpoint: str) -> Deployer:
    return Deployer(endpoint)


def test_sync_invoke_returns_the_payload_and_the_lambda_environment(endpoint: str, deployer: Deployer) -> None:
    port = endpoint.rsplit(":", 1)[1]
    name = deployer.create(echo(), env={
        "IMAGE_BASE_URL": "https://d111abcdef8.cloudfront.net/images",
        "OVERRIDDEN": "by-function",
        "PLAIN": "kept",
    })
    response, answer = deployer.invoke(name, {"prompt": "a red fox"})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert answer["event"] == {"prompt": "a red fox"}
    env = answer["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert STREAM_NAME.match(env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["_HANDLER"] == "bootstrap"
    assert env["LAMBDA_TASK_ROOT"] == answer["cwd"]
    assert env["TZ"] == ":UTC"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert env["AWS_ENDPOINT_URL"] == endpoint
    assert env["AWS_SESSION_TOKEN"]
    assert env["PATH"] == FUNCTION_PATH
    # The function's variables, with the CloudFront domain in its local form.
    assert env["IMAGE_BASE_URL"] == f"http://d111abcdef8.cloudfront.localhost:{port}/images"
    assert env["PLAIN"] == "kept"
    # --function-env extras are added and override.
    assert env["EXTRA_FLAG"] == "from-launcher"
    assert env["OVERRIDDEN"] == "by-launcher"
    # Nothing of the launcher's own environment leaks in, credentials least of all.
    assert "LEAK_CHECK" not in env
    assert env["AWS_ACCESS_KEY_ID"] != "launcher-key" and env["AWS_SECRET_ACCESS_KEY"] != "launcher-secret"
    headers = {k.lower(): v for k, v in answer["headers"].items()}
    assert headers["lambda-runtime-invoked-function-arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    assert headers["lambda-runtime-aws-request-id"] == response["ResponseMetadata"]["RequestId"]
    deadline_ms = int(headers["lambda-runtime-deadline-ms"])
    assert 0 < deadline_ms - time.time() * 1000 <= 3000
    assert headers["lambda-runtime-trace-id"].startswith("Root=1-")


def test_warm_instance_is_reused_and_arn_forms_resolve(deployer: Deployer) -> None:
    name = deployer.create(echo())
    _, first = deployer.invoke(name)
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    _, second = deployer.invoke(arn, Qualifier="$LATEST")
    _, third = deployer.invoke(f"{ACCOUNT}:function:{name}")
    assert first["pid"] == second["pid"] == third["pid"]


def test_unknown_function_dry_run_and_event(deployer: Deployer) -> None:
    with pytest.raises(ClientError) as raised:
        deployer.invoke("no-such-function")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "no-such-function" in raised.value.response["Error"]["Message"]
    name = deployer.create(echo())
    dry, _ = deployer.invoke(name, InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    event, _ = deployer.invoke(name, {"async": True}, InvocationType="Event")
    assert event["StatusCode"] == 202


def test_log_tail_and_the_log_group_hold_start_end_report(deployer: Deployer) -> None:
    name = deployer.create(echo(), memory=256)
    response, answer = deployer.invoke(name, {"n": 1}, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    tail = base64.b64decode(response["LogResult"]).decode().splitlines()
    start = tail.index(f"START RequestId: {request_id} Version: $LATEST")
    handling = tail.index(f'handling pid={answer["pid"]} event={{"n": 1}}')
    end = tail.index(f"END RequestId: {request_id}")
    assert start < handling < end
    report = REPORT_LINE.match(tail[end + 1])
    assert report and report["id"] == request_id and report["memory"] == "256"
    assert report["init"], "a cold start reports its Init Duration"
    assert int(report["used"]) > 0

    warm, _ = deployer.invoke(name, {"n": 2}, LogType="Tail")
    warm_report = REPORT_LINE.match(base64.b64decode(warm["LogResult"]).decode().splitlines()[-1])
    assert warm_report and not warm_report["init"]

    logs = deployer.aws("logs")
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [answer["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]]
    messages = [e["message"] for e in logs.get_log_events(
        logGroupName=f"/aws/lambda/{name}", logStreamName=streams[0]["logStreamName"], startFromHead=True)["events"]]
    assert messages[:4] == tail[start:end + 2]
    assert sum(1 for m in messages if m.startswith("START RequestId:")) == 2
    assert sum(1 for m in messages if REPORT_LINE.match(m)) == 2


def test_concurrency_beyond_the_reserve_is_throttled(tmp_path: Path, endpoint: str, deployer: Deployer) -> None:
    name = deployer.create(echo(), reserved=2)
    gate = tmp_path / "go"
    with ThreadPoolExecutor(max_workers=2) as pool:
        held = [pool.submit(deployer.invoke, name, {"gate": str(gate)}) for _ in range(2)]
        wait_until("two busy instances", lambda: [i["state"] for i in instances(endpoint, name)] == ["busy", "busy"])
        with pytest.raises(ClientError) as raised:
            deployer.invoke(name, {"third": True})
        gate.touch()
        answers = [future.result(timeout=20)[1] for future in held]
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert len({answer["pid"] for answer in answers}) == 2
    assert [i["state"] for i in instances(endpoint, name)] == ["idle", "idle"]


def test_timeout_kills_the_instance_and_reports_it(endpoint: str, deployer: Deployer) -> None:
    name = deployer.create(echo(), timeout=1)
    response, error = deployer.invoke(name, {"sleep_forever": True}, LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert re.search(r"^\S+Z [0-9a-f-]{36} Task timed out after 1\.00 seconds$", tail, re.MULTILINE)
    pid = int(re.search(r"handling pid=(\d+)", tail).group(1))  # type: ignore[union-attr]
    wait_until("the timed-out process to die", lambda: not alive(pid))
    assert instances(endpoint, name) == []
    _, answer = deployer.invoke(name)
    assert answer["pid"] != pid


def test_crash_at_init_fails_the_invoke_and_the_next_starts_fresh(tmp_path: Path, endpoint: str,
                                                                  deployer: Deployer) -> None:
    name = deployer.create(CRASH_ONCE, env={"CRASH_MARKER": str(tmp_path / "crashed")})
    response, error = deployer.invoke(name, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    tail = base64.b64decode(response["LogResult"]).decode().splitlines()
    assert "config error: PROVIDER_KEYS is not set" in tail
    report = REPORT_LINE.match(tail[-1])
    assert report and int(report["used"]) > 0, "the peak memory of a crashed process is reported too"
    assert instances(endpoint, name) == []
    again, answer = deployer.invoke(name)
    assert "FunctionError" not in again and answer["pid"] > 0

    failing = deployer.create(INIT_ERROR)
    response, error = deployer.invoke(failing)
    assert response["FunctionError"] == "Unhandled"
    assert error == {"errorType": "Config.Invalid", "errorMessage": "MODELS must list at least one model"}


def test_new_code_and_configuration_take_effect_on_the_next_invoke(endpoint: str, deployer: Deployer) -> None:
    name = deployer.create(echo("1"))
    _, first = deployer.invoke(name)
    assert first["version"] == "1"
    deployer.lam.update_function_code(FunctionName=name, ZipFile=zip_bootstrap(echo("2")))
    _, second = deployer.invoke(name)
    assert second["version"] == "2" and second["pid"] != first["pid"]
    wait_until("the old instance to be retired", lambda: not alive(first["pid"]))
    deployer.lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MODE": "new"}})
    _, third = deployer.invoke(name)
    assert third["env"]["MODE"] == "new" and third["pid"] != second["pid"]
    assert [i["pid"] for i in instances(endpoint, name)] == [third["pid"]]
    deployer.lam.delete_function(FunctionName=name)
    wait_until("the deleted function's instance to die", lambda: not alive(third["pid"]))
    assert instances(endpoint, name) == []


def test_failed_async_event_is_retried_then_sent_to_the_on_failure_queue(endpoint: str,
                                                                         deployer: Deployer) -> None:
    control(endpoint, "config", {"async_retry_delay_seconds": 0.05})
    sqs = deployer.aws("sqs")
    queue_url = sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = deployer.create(echo())
    deployer.lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    response, _ = deployer.invoke(name, {"fail": "boom"}, InvocationType="Event")
    assert response["StatusCode"] == 202

    def received() -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []))

    record = json.loads(wait_until("the on-failure record", received, seconds=20)[0]["Body"])
    request_id = record["requestContext"]["requestId"]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:$LATEST"
    assert record["requestPayload"] == {"fail": "boom"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"] == {"errorMessage": "boom", "errorType": "RuntimeError"}
    events = deployer.aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    starts = [e for e in events if e["message"] == f"START RequestId: {request_id} Version: $LATEST"]
    assert len(starts) == 2


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_stopping_the_local_aws_leaves_no_function_process(how: signal.Signals) -> None:
    process, url = start_with_launcher_env()
    try:
        deployer = Deployer(url)
        name = deployer.create(echo())
        _, answer = deployer.invoke(name)
        pid = answer["pid"]
        assert alive(pid)
        temp_dir = Path(control(url, "lambda")["temp_dir"])
        assert Path(answer["cwd"]).is_relative_to(temp_dir) and temp_dir.is_dir()
        process.send_signal(how)
        assert process.wait(timeout=15) == (0 if how == signal.SIGTERM else -signal.SIGKILL)
        wait_until(f"instance {pid} to die with the launcher", lambda: not alive(pid))
        if how == signal.SIGTERM:
            assert not temp_dir.exists(), "a stopped local AWS removes its functions' files"
        else:
            shutil.rmtree(temp_dir)  # nothing can clean up after SIGKILL
    finally:
        stop(process)


STATEMENT = {
    "Sid": "apigw",
    "Effect": "Allow",
    "Principal": {"Service": "apigateway.amazonaws.com"},
    "Action": "lambda:InvokeFunction",
    "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:api",
    "Condition": {"ArnLike": {"AWS:SourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/*"}},
}


@pytest.mark.parametrize(
    ("statement", "principal", "source_arn", "allowed"),
    [
        (STATEMENT, "apigateway.amazonaws.com", f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/$default/POST/generate", True),
        (STATEMENT, "apigateway.amazonaws.com", f"arn:aws:execute-api:{REGION}:{ACCOUNT}:other9/$default/GET/", False),
        (STATEMENT, "events.amazonaws.com", f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/$default/GET/", False),
        ({**STATEMENT, "Condition": {}}, "apigateway.amazonaws.com", "arn:aws:execute-api:eu-west-1:999999999999:x/y", True),
        ({**STATEMENT, "Action": "lambda:GetFunction"}, "apigateway.amazonaws.com",
         f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/$default/GET/", False),
        ({**STATEMENT, "Condition": {"StringEquals": {"AWS:SourceAccount": "999999999999"}}},
         "apigateway.amazonaws.com", f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/x", False),
    ],
)
def test_resource_policy_matching(statement: dict[str, Any], principal: str, source_arn: str, allowed: bool) -> None:
    assert statement_allows(statement, principal, source_arn, ACCOUNT) is allowed


def test_arn_like_matches_each_part_with_wildcards() -> None:
    assert arn_like("arn:aws:execute-api:*:123456789012:abc/*/*/generate",
                     "arn:aws:execute-api:us-west-2:123456789012:abc/prod/POST/generate")
    assert not arn_like("arn:aws:execute-api:*:123456789012:abc/*/*/generate",
                         "arn:aws:execute-api:us-west-2:123456789012:abc/prod/POST/other")
    assert not arn_like("arn:aws:execute-api:us-?est-2:*:abc/*", "arn:aws:execute-api:eu-west-1:1:abc/x")
