"""Stack policies: the pure decision, and an update that one denies through the API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness import create_change_set, deploy, events, unique, wait_settled
from localaws.stack_policy import PolicyError, denials, parse, reason

STATEFUL = {"StringEquals": {"ResourceType": ["AWS::S3::Bucket", "AWS::Logs::LogGroup"]}}
ALLOW_ALL = {"Effect": "Allow", "Principal": "*", "Action": "Update:*", "Resource": "*"}


def guard(*lifted: str) -> list[dict[str, Any]]:
    deny: dict[str, Any] = {"Effect": "Deny", "Principal": "*", "Action": ["Update:Replace", "Update:Delete"],
                            "Condition": STATEFUL}
    if lifted:
        deny["NotResource"] = [f"LogicalResourceId/{logical_id}" for logical_id in lifted]
    else:
        deny["Resource"] = "*"
    return [ALLOW_ALL, deny]


def change(action: str, logical_id: str, resource_type: str, replacement: str = "False") -> dict[str, Any]:
    return {"ResourceChange": {"Action": action, "LogicalResourceId": logical_id, "ResourceType": resource_type,
                               "Replacement": replacement}}


BUCKET, TOPIC = "AWS::S3::Bucket", "AWS::SNS::Topic"


@pytest.mark.parametrize(
    ("statements", "changes", "denied"),
    [
        # The guard pixelctl sets: stateful replacements and removals denied, the rest allowed.
        (guard(), [change("Modify", "Images", BUCKET, "True")], [("Update:Replace", "Images", 2)]),
        (guard(), [change("Modify", "Images", BUCKET, "Conditional")], [("Update:Replace", "Images", 2)]),
        (guard(), [change("Remove", "Images", BUCKET)], [("Update:Delete", "Images", 2)]),
        (guard(), [change("Modify", "Images", BUCKET)], []),
        (guard(), [change("Modify", "Topic", TOPIC, "True"), change("Remove", "Topic", TOPIC)], []),
        (guard(), [change("Add", "Images", BUCKET)], []),
        # Lifted for the named resource only.
        (guard("Images"), [change("Modify", "Images", BUCKET, "True")], []),
        (guard("Images"), [change("Remove", "Logs", "AWS::Logs::LogGroup")], [("Update:Delete", "Logs", 2)]),
        # No statement allows it: denied by default.
        ([{"Effect": "Allow", "Action": "Update:Modify", "Resource": "*"}],
         [change("Modify", "Topic", TOPIC, "True")], [("Update:Replace", "Topic", None)]),
        # StringLike and a Resource pattern.
        ([ALLOW_ALL, {"Effect": "Deny", "Action": "Update:*", "Resource": "LogicalResourceId/Api*",
                      "Condition": {"StringLike": {"ResourceType": ["AWS::Lambda::*"]}}}],
         [change("Modify", "ApiFunction", "AWS::Lambda::Function"), change("Modify", "Apis", TOPIC)],
         [("Update:Modify", "ApiFunction", 2)]),
    ],
)
def test_denials(statements: list[dict[str, Any]], changes: list[dict[str, Any]],
                 denied: list[tuple[str, str, int | None]]) -> None:
    assert denials(statements, changes) == denied


def test_reasons_name_the_statement_action_and_resource() -> None:
    assert reason([("Update:Replace", "Images", 2)]) == (
        "Action denied by stack policy: Statement [#2] does not allow [Update:Replace] "
        "for resource [LogicalResourceId/Images]"
    )
    assert "No statement allows [Update:Delete]" in reason([("Update:Delete", "Logs", None)])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{", "not valid JSON"),
        ("{}", "non-empty Statement"),
        ('{"Statement": [{"Effect": "Maybe", "Resource": "*"}]}', "Effect of Allow or Deny"),
        ('{"Statement": [{"Effect": "Allow", "Action": "Update:*"}]}', "Resource or NotResource"),
    ],
)
def test_bad_policies_are_refused(body: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse(body)


BUCKET_TEMPLATE = """
Parameters:
  Name:
    Type: String
Resources:
  Images:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Ref Name
"""


def test_a_denied_update_rolls_back_before_touching_anything(aws: Any) -> None:
    cfn, s3 = aws("cloudformation"), aws("s3")
    stack = unique("policy")
    first = unique("policy-images")
    deploy(cfn, stack, BUCKET_TEMPLATE, {"Name": first}, "CREATE")
    assert "StackPolicyBody" not in cfn.get_stack_policy(StackName=stack)
    policy = json.dumps({"Statement": guard()})
    cfn.set_stack_policy(StackName=stack, StackPolicyBody=policy)
    assert json.loads(cfn.get_stack_policy(StackName=stack)["StackPolicyBody"]) == {"Statement": guard()}

    # A new bucket name replaces the bucket: denied, the stack rolls back, the bucket stays.
    second = unique("policy-images")
    change_set = create_change_set(cfn, stack, BUCKET_TEMPLATE, {"Name": second}, "UPDATE")
    cfn.execute_change_set(StackName=stack, ChangeSetName=change_set["ChangeSetName"])
    described = wait_settled(cfn, stack)
    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reasons = [event.get("ResourceStatusReason", "") for event in events(cfn, stack)]
    assert any("Statement [#2] does not allow [Update:Replace] for resource [LogicalResourceId/Images]" in r
               for r in reasons), reasons
    assert {"ParameterKey": "Name", "ParameterValue": first} in described["Parameters"]
    assert s3.head_bucket(Bucket=first)["ResponseMetadata"]["HTTPStatusCode"] == 200

    # Lifted for Images alone, the same change goes through.
    cfn.set_stack_policy(StackName=stack, StackPolicyBody=json.dumps({"Statement": guard("Images")}))
    change_set = create_change_set(cfn, stack, BUCKET_TEMPLATE, {"Name": second}, "UPDATE")
    cfn.execute_change_set(StackName=stack, ChangeSetName=change_set["ChangeSetName"])
    assert wait_settled(cfn, stack)["StackStatus"] == "UPDATE_COMPLETE"
    assert s3.head_bucket(Bucket=second)["ResponseMetadata"]["HTTPStatusCode"] == 200

    with pytest.raises(ClientError, match="not valid JSON"):
        cfn.set_stack_policy(StackName=stack, StackPolicyBody="{")
