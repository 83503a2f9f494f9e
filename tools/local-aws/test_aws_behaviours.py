"""The local AWS disagreeing where AWS does: asynchronous operations, server clocks, tokens,
account concurrency, presigned code locations, S3 conflicts and DisableRollback.

Each behaviour is one a client written against a too-friendly emulator gets wrong on
AWS (see pixelctl's tests of the same). Its own local AWS, so held operations and a
shifted clock touch no other test. Run: `.venv/bin/pytest tools/local-aws/test_aws_behaviours.py`.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness import REGION, control, wait_until

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
    wait_until("the released update to complete", lambda: status(cfn, stack) == "UPDATE_COMPLETE")
    new = [e for e in cfn.describe_stack_events(StackName=stack)["StackEvents"] if e["EventId"] not in before]
    assert new and all(e["ClientRequestToken"] == "tok-update-1" for e in new)
    # Stamped by the server's clock, an hour ahead of this machine's.
    assert all(e["Timestamp"] > datetime.now(UTC) + timedelta(minutes=55) for e in new)
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


def test_page_size_pages_the_lists_pixelctl_pages_through(aws: Any, endpoint: str) -> None:
    """With `page_size` the lists come in pages with a token, and every page together is the whole list."""
    cfn, s3 = aws("cloudformation"), aws("s3")
    stack = f"paged-{uuid.uuid4().hex[:6]}"
    create(cfn, stack)
    for name in ("pixelctl-a", "pixelctl-b", "pixelctl-c"):
        cfn.create_change_set(StackName=stack, ChangeSetName=name, ChangeSetType="UPDATE", TemplateBody=TOPIC_TEMPLATE,
                              Parameters=[{"ParameterKey": "Name", "ParameterValue": name}])
    bucket = f"paged-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for index in range(5):
        s3.put_object(Bucket=bucket, Key=f"k{index}", Body=b"1")
    unpaged_events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    assert len(unpaged_events) > 2 and "NextToken" not in cfn.describe_stack_events(StackName=stack)

    assert control(endpoint, "config", {"page_size": 2})["page_size"] == 2
    try:
        # Four change sets (the create's, executed, and three): pages of 2, 2, the last without a token.
        first = cfn.list_change_sets(StackName=stack)
        assert len(first["Summaries"]) == 2 and first["NextToken"]
        second = cfn.list_change_sets(StackName=stack, NextToken=first["NextToken"])
        assert len(second["Summaries"]) == 2 and "NextToken" not in second
        assert sorted(c["ChangeSetName"] for c in first["Summaries"] + second["Summaries"]) == [
            "cs-create", "pixelctl-a", "pixelctl-b", "pixelctl-c"]

        pages = list(cfn.get_paginator("describe_stack_events").paginate(StackName=stack))
        assert len(pages) > 1 and all(len(p["StackEvents"]) <= 2 for p in pages)
        assert [e["EventId"] for p in pages for e in p["StackEvents"]] == [e["EventId"] for e in unpaged_events]
        # A newer event in front does not shift the page a token starts.
        token = pages[0]["NextToken"]
        cfn.execute_change_set(StackName=stack, ChangeSetName="pixelctl-a")
        after = cfn.describe_stack_events(StackName=stack, NextToken=token)["StackEvents"]
        assert [e["EventId"] for e in after] == [e["EventId"] for e in pages[1]["StackEvents"]]
        with pytest.raises(ClientError, match="Invalid NextToken"):
            cfn.describe_stack_events(StackName=stack, NextToken="forged")

        listed = s3.list_objects_v2(Bucket=bucket)
        assert listed["IsTruncated"] is True and len(listed["Contents"]) == 2 and listed["NextContinuationToken"]
        keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in p["Contents"]]
        assert keys == [f"k{i}" for i in range(5)]
        versions = s3.list_object_versions(Bucket=bucket)
        assert versions["IsTruncated"] is True and len(versions["Versions"]) == 2
        every = [v["Key"] for p in s3.get_paginator("list_object_versions").paginate(Bucket=bucket) for v in p["Versions"]]
        assert every == [f"k{i}" for i in range(5)]
    finally:
        control(endpoint, "config", {"page_size": 0})
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 5
