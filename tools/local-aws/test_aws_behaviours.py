"""The local AWS disagreeing where AWS does: asynchronous operations, server clocks, tokens,
account concurrency, presigned code locations, S3 conflicts and DisableRollback.

Each behaviour is one a client written against a too-friendly emulator gets wrong on
AWS (see pixelctl's tests of the same). Its own local AWS, so held operations and a
shifted clock touch no other test. Run: `.venv/bin/pytest tools/local-aws/test_aws_behaviours.py`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import urllib.request
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
REGION = "us-west-2"
TOPIC_TEMPLATE = """
Parameters:
  Name:
    Type: String
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !Ref Name
"""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    process = subprocess.Popen([str(HERE / "run"), "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line.startswith("LOCAL_AWS_ENDPOINT="), line
    yield line.split("=", 1)[1]
    process.kill()
    process.wait()


@pytest.fixture(scope="module")
def aws(endpoint: str) -> Any:
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
                            aws_secret_access_key="testing",
                            config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}))

    return client


def control(endpoint: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(f"{endpoint}/_local-aws/{name}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def status(cfn: Any, stack: str) -> str:
    found: str = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    return found


def create(cfn: Any, stack: str, name: str = "a", **execute: Any) -> str:
    cfn.create_change_set(StackName=stack, ChangeSetName="cs-create", ChangeSetType="CREATE",
                          TemplateBody=TOPIC_TEMPLATE, Parameters=[{"ParameterKey": "Name", "ParameterValue": name}])
    cfn.execute_change_set(StackName=stack, ChangeSetName="cs-create", **execute)
    return status(cfn, stack)


def test_held_operations_start_after_the_call_returns_with_the_servers_time_and_the_callers_token(
        aws: Any, endpoint: str) -> None:
    cfn = aws("cloudformation")
    stack = f"held-{uuid.uuid4().hex[:6]}"
    assert create(cfn, stack) == "CREATE_COMPLETE"
    before = {e["EventId"] for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]}
    control(endpoint, "config", {"clock_offset_seconds": 3600})
    control(endpoint, "hold", {"what": "stack-operations"})
    try:
        cfn.create_change_set(StackName=stack, ChangeSetName="cs-update", ChangeSetType="UPDATE",
                              TemplateBody=TOPIC_TEMPLATE, Parameters=[{"ParameterKey": "Name", "ParameterValue": "b"}])
        cfn.execute_change_set(StackName=stack, ChangeSetName="cs-update", ClientRequestToken="tok-update-1")
        # The call returned; the update has not started: the previous status, no new event.
        assert status(cfn, stack) == "CREATE_COMPLETE"
        assert {e["EventId"] for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]} == before
    finally:
        control(endpoint, "release", {"what": "stack-operations"})
    deadline = datetime.now(timezone.utc) + timedelta(seconds=10)
    while status(cfn, stack) != "UPDATE_COMPLETE":
        assert datetime.now(timezone.utc) < deadline, status(cfn, stack)
        time.sleep(0.05)
    new = [e for e in cfn.describe_stack_events(StackName=stack)["StackEvents"] if e["EventId"] not in before]
    assert new and all(e["ClientRequestToken"] == "tok-update-1" for e in new)
    # Stamped by the server's clock, an hour ahead of this machine's.
    assert all(e["Timestamp"] > datetime.now(timezone.utc) + timedelta(minutes=55) for e in new)
    control(endpoint, "config", {"clock_offset_seconds": 0})


def test_disable_rollback_leaves_a_failed_update_unrolled(aws: Any, endpoint: str) -> None:
    cfn = aws("cloudformation")
    stack = f"norollback-{uuid.uuid4().hex[:6]}"
    create(cfn, stack)
    control(endpoint, "fail", {"stack_name": stack, "logical_id": "Topic", "reason": "boom"})
    cfn.create_change_set(StackName=stack, ChangeSetName="cs-update", ChangeSetType="UPDATE",
                          TemplateBody=TOPIC_TEMPLATE, Parameters=[{"ParameterKey": "Name", "ParameterValue": "b"}])
    cfn.execute_change_set(StackName=stack, ChangeSetName="cs-update", DisableRollback=True)
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "UPDATE_FAILED" and described["DisableRollback"] is True


def test_express_mode_is_reported_back_and_leaves_a_failed_update_unrolled(aws: Any, endpoint: str) -> None:
    cfn = aws("cloudformation")
    stack = f"express-{uuid.uuid4().hex[:6]}"
    create(cfn, stack)
    # Express, nothing said about rollback: a failure leaves the stack UPDATE_FAILED.
    control(endpoint, "fail", {"stack_name": stack, "logical_id": "Topic", "reason": "boom"})
    cfn.create_change_set(StackName=stack, ChangeSetName="cs-express", ChangeSetType="UPDATE",
                          TemplateBody=TOPIC_TEMPLATE, Parameters=[{"ParameterKey": "Name", "ParameterValue": "b"}],
                          DeploymentConfig={"Mode": "EXPRESS"})
    described = cfn.describe_change_set(StackName=stack, ChangeSetName="cs-express")
    assert described["DeploymentConfig"] == {"Mode": "EXPRESS"}
    cfn.execute_change_set(StackName=stack, ChangeSetName="cs-express")
    stack_now = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert stack_now["StackStatus"] == "UPDATE_FAILED" and stack_now["DisableRollback"] is True
    # The next update applies over it; express with rollback asked for rolls back.
    control(endpoint, "fail", {"stack_name": stack, "logical_id": "Topic", "reason": "boom"})
    cfn.create_change_set(StackName=stack, ChangeSetName="cs-express-2", ChangeSetType="UPDATE",
                          TemplateBody=TOPIC_TEMPLATE, Parameters=[{"ParameterKey": "Name", "ParameterValue": "c"}],
                          DeploymentConfig={"Mode": "EXPRESS", "DisableRollback": False})
    cfn.execute_change_set(StackName=stack, ChangeSetName="cs-express-2")
    assert status(cfn, stack) == "UPDATE_ROLLBACK_COMPLETE"
    # Standard (no DeploymentConfig) keeps rolling back by default.
    control(endpoint, "fail", {"stack_name": stack, "logical_id": "Topic", "reason": "boom"})
    cfn.create_change_set(StackName=stack, ChangeSetName="cs-standard", ChangeSetType="UPDATE",
                          TemplateBody=TOPIC_TEMPLATE, Parameters=[{"ParameterKey": "Name", "ParameterValue": "d"}])
    assert "DeploymentConfig" not in cfn.describe_change_set(StackName=stack, ChangeSetName="cs-standard")
    cfn.execute_change_set(StackName=stack, ChangeSetName="cs-standard")
    assert status(cfn, stack) == "UPDATE_ROLLBACK_COMPLETE"


def test_reserved_concurrency_must_leave_ten_unreserved(aws: Any, endpoint: str) -> None:
    control(endpoint, "config", {"lambda_account_concurrency": 50})
    try:
        iam, lam = aws("iam"), aws("lambda")
        role = iam.create_role(RoleName=f"r-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as bundle:
            bundle.writestr("bootstrap", "#!/bin/sh\n")
        name = f"fn-{uuid.uuid4().hex[:6]}"
        lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=role, Handler="bootstrap",
                            Code={"ZipFile": archive.getvalue()})
        settings = lam.get_account_settings()["AccountLimit"]
        assert (settings["ConcurrentExecutions"], settings["UnreservedConcurrentExecutions"]) == (50, 50)
        with pytest.raises(ClientError, match=r"below its minimum value of \[10\]"):
            lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=41)
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=40)
        assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 10
        # Lambda hands out the code as a presigned URL of its own copy.
        location = lam.get_function(FunctionName=name)["Code"]["Location"]
        assert location.startswith("https://awslambda-us-west-2-tasks.s3.us-west-2.amazonaws.com/snapshots/")
        assert "X-Amz-Signature=" in location and "X-Amz-Expires=600" in location
    finally:
        control(endpoint, "config", {"lambda_account_concurrency": 1000})


def test_s3_faults_on_demand(aws: Any, endpoint: str) -> None:
    s3 = aws("s3")
    bucket = f"faults-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    control(endpoint, "s3-faults", {"fault": "conflict", "key_prefix": "releases/", "bucket": bucket})
    with pytest.raises(ClientError) as conflict:
        s3.put_object(Bucket=bucket, Key="releases/1.json", Body=b"{}", IfNoneMatch="*")
    assert conflict.value.response["Error"]["Code"] == "ConditionalRequestConflict"
    assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)  # nothing written
    control(endpoint, "s3-faults", {"fault": "lost_response", "key_prefix": "releases/"})
    with pytest.raises(ClientError) as lost:
        s3.put_object(Bucket=bucket, Key="releases/1.json", Body=b"{}", IfNoneMatch="*")
    assert lost.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    # Written all the same: the retry a client makes finds it there.
    with pytest.raises(ClientError, match="PreconditionFailed"):
        s3.put_object(Bucket=bucket, Key="releases/1.json", Body=b"{}", IfNoneMatch="*")
    s3.put_object(Bucket=bucket, Key="releases/2.json", Body=b"{}", IfNoneMatch="*")
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") is None
