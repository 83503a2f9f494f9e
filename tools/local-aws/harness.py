"""What the local AWS's tests share: starting and stopping it, its control
endpoints, boto3 clients with dummy credentials, polling, and the stack helpers
(the real template's parameters, change sets, deploys, events).

The fixtures built on these live in `conftest.py`; a test module imports the
helpers from here, never from another test module.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import boto3
from botocore.config import Config

from localaws.template import parse_template

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TEMPLATE_PATH = REPO / "templates" / "pixel-prompt.yaml"
REGION = "us-west-2"
ACCOUNT = "123456789012"
ARTIFACT_BUCKET = "pixelctl-artifacts-smoke"
ARTIFACT_KEY = "lambda/0123abcd.zip"
# Dummy credentials every client and the tests' own environment use.
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


# --- the process -------------------------------------------------------------------------


def start_local_aws(*args: str, env: Mapping[str, str] | None = None,
                    extra_lines: int = 0) -> tuple[subprocess.Popen[str], str, list[str]]:
    """`tools/local-aws/run --port 0 ARGS`: the process, its endpoint, and the
    `extra_lines` lines it prints after the endpoint line (e.g. `FAKE_PROVIDERS=`)."""
    process = subprocess.Popen([str(HERE / "run"), "--port", "0", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=None if env is None else dict(env))
    assert process.stdout is not None
    lines = [process.stdout.readline().strip() for _ in range(1 + extra_lines)]
    if not lines[0].startswith("LOCAL_AWS_ENDPOINT=") or not all(lines):
        process.kill()
        stderr = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"unexpected first lines {lines!r}; stderr: {stderr}")
    return process, lines[0].split("=", 1)[1], lines[1:]


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM, as a user stops it (it then kills its Lambda instances and removes its files)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


# --- talking to it -----------------------------------------------------------------------


def control(endpoint: str, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A control endpoint: `GET /_local-aws/NAME` without a body, else `POST` it as JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{endpoint}/_local-aws/{name}", data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return cast("dict[str, Any]", json.loads(response.read()))


def clients(endpoint: str, **config: Any) -> Callable[[str], Any]:
    """boto3 clients for the local AWS: dummy credentials, path-style S3, no retries
    (a retry would hide what the local AWS answered first); `config` adds to that."""
    settings = Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}, **config)

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint, config=settings,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    return client


def wait_until(what: str, check: Callable[[], Any], seconds: float = 10.0) -> Any:
    """Polls until `check` returns something truthy and returns it (waiting for a state, not
    deciding one: the deadline only turns a hang into a failure)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def wait_held(endpoint: str, stack_name: str, logical_id: str) -> None:
    """Until the stack's operation waits at its `stack-resource` hold on `logical_id`."""
    def reached() -> bool:
        holds = control(endpoint, "hold")["stack_resources"]
        return any(h["stack_name"] == stack_name and h["logical_id"] == logical_id and h["reached"] for h in holds)

    wait_until(f"{stack_name}'s operation to reach {logical_id}", reached)


# --- stacks ------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    """A stack name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def template_parameters(body: str, **overrides: str) -> dict[str, str]:
    """A value for every required parameter of the real template, read fresh each run."""
    declared = parse_template(body).get("Parameters", {})
    known = {
        "EnvironmentName": "dev", "ArtifactBucket": ARTIFACT_BUCKET, "ArtifactKey": ARTIFACT_KEY,
        "LambdaMemoryMb": "3008", "LambdaTimeoutSeconds": "29", "ReservedConcurrency": "10",
        "WorkerMemoryMb": "256", "WorkerTimeoutSeconds": "180", "WorkerReservedConcurrency": "3",
        "LogRetentionDays": "7", "ModelCount": "3", "ModelsJson": '[{"name":"dall-e-3"}]',
        "EnhanceModelJson": '{"name":"gpt-4o-mini"}', "ProviderKeysJson": '{"openai":"ssm"}',
        "ApiProviderKeysJson": '{"openai":"ssm"}',
        "SecretsPath": "pixel-prompt/dev", "GlobalRateLimitPerHour": "1000", "IpRateLimitPerDay": "50",
        "AllowedOrigins": "http://localhost:5173,https://example.org", "ImageExpiryDays": "30",
        "PriceClass": "PriceClass_100", "ThrottleBurst": "100", "ThrottleRate": "50",
        "ErrorsAlarmThreshold": "5", "ApiDurationAlarmMs": "5000", "WorkerDurationAlarmMs": "150000",
        "MonthlyBudgetUsd": "50",
    }
    values = {}
    for key, spec in declared.items():
        if key in overrides:
            values[key] = overrides[key]
        elif key in known:
            values[key] = known[key]
        elif "Default" not in spec:
            allowed = spec.get("AllowedValues")
            values[key] = str(allowed[0]) if allowed else str(spec.get("MinValue", "x" * int(spec.get("MinLength", 1))))
    return values


def as_list(params: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()]


def create_change_set(cfn: Any, stack: str, body: str, params: dict[str, str], kind: str, name: str | None = None) -> dict[str, Any]:
    name = name or f"cs-{uuid.uuid4().hex[:8]}"
    cfn.create_change_set(
        StackName=stack, ChangeSetName=name, ChangeSetType=kind, TemplateBody=body,
        Parameters=as_list(params), Capabilities=["CAPABILITY_IAM"], Tags=[{"Key": "Project", "Value": "pixel-prompt"}],
    )
    return cast("dict[str, Any]", cfn.describe_change_set(StackName=stack, ChangeSetName=name))


def wait_settled(cfn: Any, stack: str, timeout: float = 20) -> dict[str, Any]:
    """The stack once no operation is in progress (or as it is after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if not described["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return cast("dict[str, Any]", described)
        time.sleep(0.1)


def deploy(cfn: Any, stack: str, body: str, params: dict[str, str], kind: str) -> dict[str, Any]:
    change_set = create_change_set(cfn, stack, body, params, kind)
    assert change_set["Status"] == "CREATE_COMPLETE", change_set.get("StatusReason")
    cfn.execute_change_set(StackName=stack, ChangeSetName=change_set["ChangeSetName"])
    return wait_settled(cfn, stack)


def outputs(described: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def physical_ids(cfn: Any, stack: str) -> dict[str, str]:
    summaries = cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries}


def events(cfn: Any, stack: str) -> list[dict[str, Any]]:
    return cast("list[dict[str, Any]]", cfn.describe_stack_events(StackName=stack)["StackEvents"])
