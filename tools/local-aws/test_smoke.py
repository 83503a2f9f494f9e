"""Smoke test of the local AWS over real HTTP, as pixelctl will use it.

Starts `tools/local-aws/run --port 0`, deploys the repository's real
`templates/pixel-prompt.yaml` through change sets with boto3, and checks each
resource through its own service API, the change-set plan, rollbacks, the
control endpoints and a clean SIGTERM. Every test that deploys gets a stack of
its own (the `deployed` fixture), so none depends on another having run, and
what is asynchronous is stopped with the hold/release controls, not timed.
Run: `.venv/bin/pytest tools/local-aws`.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError

from harness import (
    ACCOUNT,
    REGION,
    control,
    create_change_set,
    deploy,
    events,
    outputs,
    physical_ids,
    start_local_aws,
    template_parameters,
    unique,
    wait_held,
    wait_settled,
)
from localaws.emf import metric_data
from localaws.s3_owner import bucket_of
from localaws.template import parse_template

NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."

SMALL_TEMPLATE = """
Parameters:
  Secret:
    Type: String
    NoEcho: true
  Label:
    Type: String
    Default: one
Resources:
  TopicA:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !Sub "a-${Label}"
  TopicB:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !Sub "b-${Label}-${TopicA.TopicName}"
  TopicC:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !Sub "c-${Label}-${TopicB.TopicName}"
Outputs:
  TopicA:
    Value: !Ref TopicA
"""


def test_moto_is_the_pinned_version() -> None:
    import moto

    from localaws import PINNED_MOTO_VERSION, MotoVersionError, check_moto_version

    assert moto.__version__ == PINNED_MOTO_VERSION == "5.2.5", (
        f"moto {moto.__version__} installed: the local AWS extensions are written against 5.2.5"
    )
    original = moto.__version__
    moto.__version__ = "9.9.9"
    try:
        with pytest.raises(MotoVersionError):
            check_moto_version()
    finally:
        moto.__version__ = original


def test_real_template_deploys_with_outputs_and_events(aws: Any, deployed: dict[str, Any], real_template: str) -> None:
    cfn = aws("cloudformation")
    described = deployed["described"]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert described["EnableTerminationProtection"] is False
    assert {"Key": "Project", "Value": "pixel-prompt"} in described["Tags"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}["PriceClass"] == "PriceClass_100"
    out = outputs(described)
    for key in ("ApiEndpoint", "CloudFrontDomain", "DistributionId", "ImagesBucket", "S3BucketName", "FunctionName"):
        assert out.get(key), f"output {key} missing or empty: {out}"
    assert cfn.get_template(StackName=deployed["stack"])["TemplateBody"] == real_template

    stack_events = events(cfn, deployed["stack"])
    times = [e["Timestamp"] for e in stack_events]
    assert times == sorted(times, reverse=True), "events must be newest first"
    assert stack_events[0]["ResourceStatus"] == "CREATE_COMPLETE" and stack_events[0]["ResourceType"] == "AWS::CloudFormation::Stack"
    complete = {e["LogicalResourceId"] for e in stack_events if e["ResourceStatus"] == "CREATE_COMPLETE"}
    resources = parse_template(real_template)["Resources"]
    expected = {lid for lid, body in resources.items() if "Condition" not in body}
    assert expected <= complete
    assert all(e["PhysicalResourceId"] for e in stack_events if e["ResourceStatus"] == "CREATE_COMPLETE")


def test_bucket_settings_reach_s3(aws: Any, deployed: dict[str, Any]) -> None:
    s3 = aws("s3")
    bucket = outputs(deployed["described"])["ImagesBucket"]
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["ExpireGeneratedImages"]["Filter"]["Prefix"] == "images/"
    assert rules["ExpireGeneratedImages"]["Expiration"]["Days"] == 30
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    distribution_id = outputs(deployed["described"])["DistributionId"]
    allow = next(s for s in policy["Statement"] if s["Effect"] == "Allow")
    assert allow["Condition"]["StringEquals"]["AWS:SourceArn"].endswith(f"distribution/{distribution_id}")
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0]
    assert ownership["ObjectOwnership"] == "BucketOwnerEnforced"
    assert {"Key": "Environment", "Value": "dev"} in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]


def test_distribution_and_origin_access_control(aws: Any, deployed: dict[str, Any]) -> None:
    cloudfront = aws("cloudfront")
    ids = physical_ids(aws("cloudformation"), deployed["stack"])
    out = outputs(deployed["described"])
    dist = cloudfront.get_distribution(Id=out["DistributionId"])["Distribution"]
    assert dist["DomainName"] == out["CloudFrontDomain"]
    config = dist["DistributionConfig"]
    # Two origins on the one bucket: the web app under site/, the images at the root.
    origins = {origin["Id"]: origin for origin in config["Origins"]["Items"]}
    assert set(origins) == {"site", "images"}
    for origin in origins.values():
        assert origin["DomainName"] == f"{out['ImagesBucket']}.s3.{REGION}.amazonaws.com"
        assert origin["OriginAccessControlId"] == ids["ImagesOriginAccessControl"]
        assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert origins["site"]["OriginPath"] == "/site"
    assert config["PriceClass"] == "PriceClass_100"
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "site"
    assert config["DefaultCacheBehavior"]["CachePolicyId"] == "658327ea-f89d-4fab-a63d-7e88639e58f6"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    images = config["CacheBehaviors"]["Items"]
    assert [(b["PathPattern"], b["TargetOriginId"], b["ViewerProtocolPolicy"]) for b in images] == [("images/*", "images", "https-only")]
    errors = config["CustomErrorResponses"]["Items"]
    assert [(str(e["ErrorCode"]), e["ResponsePagePath"], str(e["ResponseCode"])) for e in errors] == [("404", "/index.html", "200")]
    assert config["HttpVersion"] == "http2and3"
    assert out["SiteUrl"] == f"https://{out['CloudFrontDomain']}/"
    control_config = cloudfront.get_origin_access_control(Id=ids["ImagesOriginAccessControl"])
    assert control_config["OriginAccessControl"]["OriginAccessControlConfig"]["SigningProtocol"] == "sigv4"


def test_api_lambda_logs_iam_and_alarms(aws: Any, deployed: dict[str, Any]) -> None:
    out = outputs(deployed["described"])
    ids = physical_ids(aws("cloudformation"), deployed["stack"])
    api_id = ids["HttpApi"]
    api = aws("apigatewayv2")
    assert api.get_api(ApiId=api_id)["ApiEndpoint"] == out["ApiEndpoint"]
    # The stack's own distribution first (it serves the web app), then the extra origins.
    assert api.get_api(ApiId=api_id)["CorsConfiguration"]["AllowOrigins"] == [
        f"https://{out['CloudFrontDomain']}", "http://localhost:5173", "https://example.org"
    ]
    route_keys = {r["RouteKey"] for r in api.get_routes(ApiId=api_id)["Items"]}
    assert {"$default", "POST /generate", "GET /status/{jobId}", "POST /log"} <= route_keys
    integration = api.get_integrations(ApiId=api_id)["Items"][0]
    function = aws("lambda").get_function(FunctionName=out["FunctionName"])
    assert integration["IntegrationUri"] == function["Configuration"]["FunctionArn"]
    assert integration["PayloadFormatVersion"] == "2.0" and integration["IntegrationType"] == "AWS_PROXY"
    stage = api.get_stages(ApiId=api_id)["Items"][0]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 100

    configuration = function["Configuration"]
    assert configuration["Runtime"] == "provided.al2023"
    assert configuration["MemorySize"] == 3008 and configuration["Timeout"] == 29
    assert configuration["Environment"]["Variables"]["CLOUDFRONT_DOMAIN"] == out["CloudFrontDomain"]
    assert configuration["Environment"]["Variables"]["ALLOWED_ORIGINS"] == f"https://{out['CloudFrontDomain']},http://localhost:5173,https://example.org"
    assert configuration["LoggingConfig"]["LogGroup"] == ids["FunctionLogGroup"]
    assert function["Concurrency"]["ReservedConcurrentExecutions"] == 10
    policy = json.loads(aws("lambda").get_policy(FunctionName=out["FunctionName"])["Policy"])
    assert policy["Statement"][0]["Principal"]["Service"] == "apigateway.amazonaws.com"

    groups = aws("logs").describe_log_groups(logGroupNamePrefix=ids["FunctionLogGroup"])["logGroups"]
    assert groups[0]["retentionInDays"] == 7
    role_policies = aws("iam").list_role_policies(RoleName=ids["FunctionRole"])["PolicyNames"]
    assert role_policies == ["pixel-prompt-api"]

    alarms = aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"{deployed['stack']}-")["MetricAlarms"]
    topic_arn = out["AlarmTopicArn"]
    assert len(alarms) == 10
    assert all(a["AlarmActions"] == [topic_arn] for a in alarms)
    assert {a.get("MetricName") for a in alarms} == {
        "Errors", "Duration", "5xx", "Throttles", "AsyncEventsDropped", "ApproximateNumberOfMessagesVisible", None,
    }
    errors = [a for a in alarms if a.get("MetricName") == "Errors"]
    assert {a["Dimensions"][0]["Value"] for a in errors} == {out["FunctionName"], out["WorkerFunctionName"]}
    assert aws("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]["DisplayName"] == "Pixel Prompt dev alarms"


def test_alarm_topic_key_dead_letter_queue_budget_and_stage_settings(aws: Any, deployed: dict[str, Any]) -> None:
    """The resource types the hardened template added reach the services that serve them."""
    out = outputs(deployed["described"])
    ids = physical_ids(aws("cloudformation"), deployed["stack"])
    # A customer-managed key CloudWatch and Budgets may use, encrypting the topic.
    key = aws("kms").describe_key(KeyId=ids["AlarmTopicKey"])["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER" and key["Enabled"]
    policy = json.loads(aws("kms").get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    services = [s for s in policy["Statement"] if "Service" in s["Principal"]]
    assert services[0]["Principal"]["Service"] == ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
    assert set(services[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert aws("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    topic = aws("sns").get_topic_attributes(TopicArn=out["AlarmTopicArn"])["Attributes"]
    assert topic["KmsMasterKeyId"] == key["KeyId"]
    topic_policy = json.loads(topic["Policy"])
    assert [s["Sid"] for s in topic_policy["Statement"]] == ["AccountManagesTheTopic", "AlarmsAndBudgetsPublish"]
    # The worker's retry policy and encrypted dead-letter queue.
    invoke_config = aws("lambda").get_function_event_invoke_config(FunctionName=out["WorkerFunctionName"])
    assert (invoke_config["MaximumRetryAttempts"], invoke_config["MaximumEventAgeInSeconds"]) == (1, 900)
    queue_arn = invoke_config["DestinationConfig"]["OnFailure"]["Destination"]
    queue_name = queue_arn.rsplit(":", 1)[1]
    assert out["DeadLetterQueueUrl"].endswith(f"/{ACCOUNT}/{queue_name}")
    attributes = aws("sqs").get_queue_attributes(QueueUrl=out["DeadLetterQueueUrl"], AttributeNames=["All"])["Attributes"]
    assert attributes["SqsManagedSseEnabled"] == "true" and attributes["MessageRetentionPeriod"] == "1209600"
    dead_letter = next(a for a in aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"{deployed['stack']}-")["MetricAlarms"] if a.get("Namespace") == "AWS/SQS")
    assert dead_letter["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]
    # The metric-math alarm on the share of failed generations.
    math = next(a for a in aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"{deployed['stack']}-")["MetricAlarms"] if a.get("Metrics"))
    assert [m["Id"] for m in math["Metrics"]] == ["failed", "generated", "share"]
    assert math["Metrics"][2]["Expression"] == "IF(generated >= 5, 100 * failed / generated, 0)"
    # The budget and its notifications to the topic.
    budget = aws("budgets").describe_budget(AccountId=ACCOUNT, BudgetName=ids["MonthlyBudget"])["Budget"]
    assert budget["BudgetLimit"] == {"Amount": "50", "Unit": "USD"} and budget["TimeUnit"] == "MONTHLY"
    notifications = aws("budgets").describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=ids["MonthlyBudget"])["Notifications"]
    assert sorted((n["NotificationType"], n["Threshold"]) for n in notifications) == [
        ("ACTUAL", 50.0), ("ACTUAL", 80.0), ("ACTUAL", 100.0), ("FORECASTED", 100.0),
    ]
    # Paid routes throttled apart, access logs to their own group.
    stage = aws("apigatewayv2").get_stages(ApiId=ids["HttpApi"])["Items"][0]
    assert set(stage["RouteSettings"]) == {"POST /generate", "POST /enhance"}
    assert stage["AccessLogSettings"]["DestinationArn"].endswith(f":log-group:{out['AccessLogGroup']}:*")


def test_unchanged_change_set_fails_with_aws_reason(aws: Any, deployed: dict[str, Any], real_template: str) -> None:
    change_set = create_change_set(aws("cloudformation"), deployed["stack"], real_template, deployed["params"], "UPDATE")
    assert change_set["Status"] == "FAILED"
    assert change_set["ExecutionStatus"] == "UNAVAILABLE"
    assert change_set["StatusReason"] == NO_CHANGES


def _alarm_threshold(aws: Any, deployed: dict[str, Any], logical_id: str) -> float:
    name = physical_ids(aws("cloudformation"), deployed["stack"])[logical_id]
    return float(aws("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["Threshold"])


def _distribution_config(aws: Any, deployed: dict[str, Any]) -> dict[str, Any]:
    dist_id = outputs(deployed["described"])["DistributionId"]
    return cast("dict[str, Any]", aws("cloudfront").get_distribution(Id=dist_id)["Distribution"])


def _expiry_days(aws: Any, deployed: dict[str, Any]) -> int:
    bucket = outputs(deployed["described"])["ImagesBucket"]
    rules = aws("s3").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    return cast("int", next(r["Expiration"]["Days"] for r in rules if r["ID"] == "ExpireGeneratedImages"))


def test_update_plans_modify_with_details_then_applies(aws: Any, deployed: dict[str, Any], real_template: str) -> None:
    cfn = aws("cloudformation")
    changed = dict(deployed["params"], PriceClass="PriceClass_All", ImageExpiryDays="14", ErrorsAlarmThreshold="9")
    change_set = create_change_set(cfn, deployed["stack"], real_template, changed, "UPDATE")
    assert change_set["Status"] == "CREATE_COMPLETE"
    by_id = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in change_set["Changes"]}
    assert set(by_id) == {"ImagesDistribution", "ImagesBucket", "ApiErrorsAlarm", "WorkerErrorsAlarm", "ApiFunction", "WorkerFunction"}
    dist_change = by_id["ImagesDistribution"]
    assert dist_change["Action"] == "Modify" and dist_change["Replacement"] == "False"
    assert dist_change["Scope"] == ["Properties"]
    detail = dist_change["Details"][0]
    assert detail["Target"] == {"Attribute": "Properties", "Name": "DistributionConfig", "RequiresRecreation": "Never"}
    assert detail["ChangeSource"] == "ParameterReference" and detail["CausingEntity"] == "PriceClass"
    assert by_id["ApiErrorsAlarm"]["Details"][0]["Target"]["Name"] == "Threshold"
    # With IncludePropertyValues: the changed value's path and its values, not the whole property's.
    valued = cfn.describe_change_set(StackName=deployed["stack"], ChangeSetName=change_set["ChangeSetName"],
                                     IncludePropertyValues=True)
    targets = {c["ResourceChange"]["LogicalResourceId"]: [d["Target"] for d in c["ResourceChange"]["Details"]]
               for c in valued["Changes"]}
    assert targets["ImagesDistribution"] == [{
        "Attribute": "Properties", "Name": "DistributionConfig", "RequiresRecreation": "Never",
        "Path": "/Properties/DistributionConfig/PriceClass", "AttributeChangeType": "Modify",
        "BeforeValue": "PriceClass_100", "AfterValue": "PriceClass_All"}]
    expiry = [t for t in targets["ImagesBucket"] if t["Path"].endswith("/ExpirationInDays")]
    assert [t["Path"] for t in expiry] == [
        "/Properties/LifecycleConfiguration/Rules/0/ExpirationInDays",
        "/Properties/LifecycleConfiguration/Rules/1/ExpirationInDays"]
    assert {(t["BeforeValue"], t["AfterValue"]) for t in expiry} == {("30", "14")}

    cfn.execute_change_set(StackName=deployed["stack"], ChangeSetName=change_set["ChangeSetName"])
    described = wait_settled(cfn, deployed["stack"])
    assert described["StackStatus"] == "UPDATE_COMPLETE"
    assert all(outputs(described).values()) and outputs(described) == outputs(deployed["described"])
    assert _distribution_config(aws, deployed)["DistributionConfig"]["PriceClass"] == "PriceClass_All"
    assert _expiry_days(aws, deployed) == 14
    assert _alarm_threshold(aws, deployed, "ApiErrorsAlarm") == 9
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events(cfn, deployed["stack"])]
    assert ("ApiErrorsAlarm", "UPDATE_COMPLETE") in statuses and statuses[0] == (deployed["stack"], "UPDATE_COMPLETE")


def test_revert_applies_and_cloudfront_reports_in_progress(aws: Any, endpoint: str, deployed: dict[str, Any], real_template: str) -> None:
    cfn = aws("cloudformation")
    changed = dict(deployed["params"], PriceClass="PriceClass_All", ImageExpiryDays="14", ErrorsAlarmThreshold="9")
    assert deploy(cfn, deployed["stack"], real_template, changed, "UPDATE")["StackStatus"] == "UPDATE_COMPLETE"
    dist_id = outputs(deployed["described"])["DistributionId"]
    control(endpoint, "hold", {"what": "cloudfront-distributions"})
    try:
        described = deploy(cfn, deployed["stack"], real_template, deployed["params"], "UPDATE")
        assert described["StackStatus"] == "UPDATE_COMPLETE"
        assert _distribution_config(aws, deployed)["Status"] == "InProgress"
        listed = aws("cloudfront").list_distributions()["DistributionList"]["Items"]
        assert [d["Status"] for d in listed if d["Id"] == dist_id] == ["InProgress"]
    finally:
        control(endpoint, "release", {"what": "cloudfront-distributions"})
    assert _distribution_config(aws, deployed)["Status"] == "Deployed"
    assert _distribution_config(aws, deployed)["DistributionConfig"]["PriceClass"] == "PriceClass_100"
    assert _expiry_days(aws, deployed) == 30
    assert _alarm_threshold(aws, deployed, "ApiErrorsAlarm") == 5


def test_every_update_handler_applies_and_reverts(aws: Any, deployed: dict[str, Any], real_template: str) -> None:
    cfn = aws("cloudformation")
    ids = physical_ids(cfn, deployed["stack"])
    staging = dict(deployed["params"], EnvironmentName="staging", ReservedConcurrency="0", LogRetentionDays="14", ThrottleBurst="200")
    for params, env in ((staging, "staging"), (deployed["params"], "dev")):
        described = deploy(cfn, deployed["stack"], real_template, params, "UPDATE")
        assert described["StackStatus"] == "UPDATE_COMPLETE", described.get("StackStatusReason")
        assert physical_ids(cfn, deployed["stack"]) == ids, "an in-place update must keep physical ids"
        role_tags = aws("iam").list_role_tags(RoleName=ids["FunctionRole"])["Tags"]
        assert {"Key": "Environment", "Value": env} in role_tags
        function = aws("lambda").get_function(FunctionName=ids["ApiFunction"])
        assert function["Configuration"]["Environment"]["Variables"]["ENVIRONMENT"] == env
        assert function["Tags"]["Environment"] == env
        assert ("Concurrency" in function) == (env == "dev")
        assert aws("apigatewayv2").get_api(ApiId=ids["HttpApi"])["Tags"]["Environment"] == env
        stage = aws("apigatewayv2").get_stages(ApiId=ids["HttpApi"])["Items"][0]
        assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == (200 if env == "staging" else 100)
        group = aws("logs").describe_log_groups(logGroupNamePrefix=ids["FunctionLogGroup"])["logGroups"][0]
        assert group["retentionInDays"] == (14 if env == "staging" else 7)
        topic = aws("sns").get_topic_attributes(TopicArn=ids["AlarmTopic"])["Attributes"]
        assert topic["DisplayName"] == f"Pixel Prompt {env} alarms"
        alarms = aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"{deployed['stack']}-")["MetricAlarms"]
        assert all(a["AlarmDescription"].startswith(f"Pixel Prompt {env}:") for a in alarms)
        comment = _distribution_config(aws, deployed)["DistributionConfig"]["Comment"]
        assert comment == f"Pixel Prompt web app and images ({env})"


def test_create_only_change_plans_replacement(aws: Any, deployed: dict[str, Any], real_template: str) -> None:
    cfn = aws("cloudformation")
    websocket = real_template.replace("ProtocolType: HTTP", "ProtocolType: WEBSOCKET", 1)
    change_set = create_change_set(cfn, deployed["stack"], websocket, deployed["params"], "UPDATE")
    by_id = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in change_set["Changes"]}
    assert by_id["HttpApi"]["Replacement"] == "True"
    assert by_id["HttpApi"]["Details"][0]["Target"]["RequiresRecreation"] == "Always"
    assert by_id["GenerateRoute"]["Replacement"] == "Conditional"
    assert by_id["GenerateRoute"]["Details"][0]["Evaluation"] == "Dynamic"
    cfn.delete_change_set(StackName=deployed["stack"], ChangeSetName=change_set["ChangeSetName"])


def test_failed_update_rolls_back_for_real(aws: Any, endpoint: str, deployed: dict[str, Any], real_template: str) -> None:
    cfn = aws("cloudformation")
    control(endpoint, "fail", {"stack_name": deployed["stack"], "logical_id": "ApiErrorsAlarm", "reason": "boom on update"})
    changed = dict(deployed["params"], PriceClass="PriceClass_200", ErrorsAlarmThreshold="7")
    described = deploy(cfn, deployed["stack"], real_template, changed, "UPDATE")
    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    failed = [e for e in events(cfn, deployed["stack"]) if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert failed[0]["LogicalResourceId"] == "ApiErrorsAlarm" and failed[0]["ResourceStatusReason"] == "boom on update"
    statuses = [e["ResourceStatus"] for e in events(cfn, deployed["stack"]) if e["LogicalResourceId"] == deployed["stack"]]
    assert statuses[:3] == ["UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS"]
    assert _distribution_config(aws, deployed)["DistributionConfig"]["PriceClass"] == "PriceClass_100"
    assert _alarm_threshold(aws, deployed, "ApiErrorsAlarm") == 5
    params = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert params["PriceClass"] == "PriceClass_100"
    assert all(outputs(described).values())


def test_rollback_failure_then_continue_update_rollback(aws: Any, endpoint: str, deployed: dict[str, Any], real_template: str) -> None:
    cfn = aws("cloudformation")
    control(endpoint, "fail", {"stack_name": deployed["stack"], "logical_id": "ApiErrorsAlarm", "reason": "stuck", "mode": "rollback_fails"})
    changed = dict(deployed["params"], ErrorsAlarmThreshold="8", ApiDurationAlarmMs="6000")
    described = deploy(cfn, deployed["stack"], real_template, changed, "UPDATE")
    assert described["StackStatus"] == "UPDATE_ROLLBACK_FAILED"
    with pytest.raises(ClientError, match="can not be updated"):
        create_change_set(cfn, deployed["stack"], real_template, deployed["params"], "UPDATE")
    cfn.continue_update_rollback(StackName=deployed["stack"])
    assert wait_settled(cfn, deployed["stack"])["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert _alarm_threshold(aws, deployed, "ApiErrorsAlarm") == 5
    assert _alarm_threshold(aws, deployed, "ApiDurationAlarm") == 5000


def test_a_rollback_failure_persists_until_fixed_and_only_rollback_failures_can_be_skipped(
        aws: Any, endpoint: str, deployed: dict[str, Any], real_template: str) -> None:
    cfn = aws("cloudformation")
    stack = deployed["stack"]
    # ApiErrorsAlarm's update succeeds but its rollback keeps failing; ApiDurationAlarm's update fails.
    control(endpoint, "fail", {"stack_name": stack, "logical_id": "ApiErrorsAlarm", "reason": "alarm stuck",
                               "mode": "rollback_only", "until_fixed": True})
    control(endpoint, "fail", {"stack_name": stack, "logical_id": "ApiDurationAlarm", "reason": "boom"})
    changed = dict(deployed["params"], ErrorsAlarmThreshold="8", ApiDurationAlarmMs="60000")
    assert deploy(cfn, stack, real_template, changed, "UPDATE")["StackStatus"] == "UPDATE_ROLLBACK_FAILED"
    events = list(reversed(cfn.describe_stack_events(StackName=stack)["StackEvents"]))
    phase = max(i for i, e in enumerate(events)
                if e["ResourceType"] == "AWS::CloudFormation::Stack" and e["ResourceStatus"] == "UPDATE_ROLLBACK_IN_PROGRESS")
    failed = [(e["LogicalResourceId"], i > phase) for i, e in enumerate(events) if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert ("ApiDurationAlarm", False) in failed and ("ApiErrorsAlarm", True) in failed
    # It fails again until its cause is fixed...
    cfn.continue_update_rollback(StackName=stack)
    described = wait_settled(cfn, stack)
    assert described["StackStatus"] == "UPDATE_ROLLBACK_FAILED"
    resources = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}
    assert resources["ApiErrorsAlarm"]["ResourceStatus"] == "UPDATE_FAILED"
    # ... only a resource whose rollback failed may be skipped ...
    with pytest.raises(ClientError, match=r"\[ApiDurationAlarm\] cannot be skipped"):
        cfn.continue_update_rollback(StackName=stack, ResourcesToSkip=["ApiDurationAlarm"])
    # ... and once fixed it rolls back.
    assert control(endpoint, "fix", {"stack_name": stack, "logical_id": "ApiErrorsAlarm"}) == {"fixed": True}
    cfn.continue_update_rollback(StackName=stack)
    assert wait_settled(cfn, stack)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert _alarm_threshold(aws, deployed, "ApiErrorsAlarm") == 5


def test_condition_adds_then_removes_a_resource(aws: Any, deployed: dict[str, Any], real_template: str) -> None:
    cfn = aws("cloudformation")
    sns = aws("sns")
    topic_arn = outputs(deployed["described"])["AlarmTopicArn"]
    with_email = dict(deployed["params"], AlarmEmail="ops@example.org")
    change_set = create_change_set(cfn, deployed["stack"], real_template, with_email, "UPDATE")
    assert [(c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"]) for c in change_set["Changes"]] == [
        ("Add", "AlarmEmailSubscription")
    ]
    cfn.execute_change_set(StackName=deployed["stack"], ChangeSetName=change_set["ChangeSetName"])
    assert wait_settled(cfn, deployed["stack"])["StackStatus"] == "UPDATE_COMPLETE"
    endpoints = [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]]
    assert endpoints == ["ops@example.org"]

    change_set = create_change_set(cfn, deployed["stack"], real_template, deployed["params"], "UPDATE")
    assert change_set["Changes"][0]["ResourceChange"]["Action"] == "Remove"
    cfn.execute_change_set(StackName=deployed["stack"], ChangeSetName=change_set["ChangeSetName"])
    assert wait_settled(cfn, deployed["stack"])["StackStatus"] == "UPDATE_COMPLETE"
    assert sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"] == []
    assert "AlarmEmailSubscription" not in physical_ids(cfn, deployed["stack"])


def test_failed_create_rolls_back_and_only_delete_is_allowed(aws: Any, endpoint: str, artifact: None, real_template: str) -> None:
    cfn = aws("cloudformation")
    stack = "pixel-prompt-broken"
    control(endpoint, "fail", {"stack_name": stack, "logical_id": "ApiFunction", "reason": "no function today"})
    params = template_parameters(real_template)
    described = deploy(cfn, stack, real_template, params, "CREATE")
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    rollback = next(e for e in events(cfn, stack) if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS")
    assert "[ApiFunction]" in rollback["ResourceStatusReason"]
    by_resource: dict[str, list[str]] = {}
    for event in reversed(events(cfn, stack)):
        by_resource.setdefault(event["LogicalResourceId"], []).append(event["ResourceStatus"])
    assert by_resource["ApiFunction"] == ["CREATE_IN_PROGRESS", "CREATE_FAILED", "DELETE_COMPLETE"]
    assert by_resource["FunctionRole"][-2:] == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    # `RetainExceptOnCreate`: kept by a stack delete, removed with a failed first create.
    assert by_resource["ImagesBucket"][-2:] == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    buckets = {b["Name"] for b in aws("s3").list_buckets()["Buckets"]}
    assert not any(name.startswith(f"{stack}-imagesbucket") for name in buckets), buckets
    assert by_resource[stack][-3:] == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    reason = next(e for e in events(cfn, stack) if e["ResourceStatus"] == "CREATE_FAILED")["ResourceStatusReason"]
    assert reason == "no function today"
    role_names = {r["RoleName"] for r in aws("iam").list_roles()["Roles"]}
    assert not any(name.startswith(f"{stack}-") for name in role_names)
    with pytest.raises(ClientError, match="is in ROLLBACK_COMPLETE state and can not be updated"):
        create_change_set(cfn, stack, real_template, params, "UPDATE")
    cfn.delete_stack(StackName=stack)
    assert cfn.describe_stacks(StackName=described["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_no_echo_masked_and_termination_protection(aws: Any) -> None:
    cfn = aws("cloudformation")
    stack = "small-secret"
    change_set = create_change_set(cfn, stack, SMALL_TEMPLATE, {"Secret": "hunter2"}, "CREATE")
    assert {"ParameterKey": "Secret", "ParameterValue": "****"} in change_set["Parameters"]
    cfn.execute_change_set(StackName=stack, ChangeSetName=change_set["ChangeSetName"])
    described = wait_settled(cfn, stack)
    assert {"ParameterKey": "Secret", "ParameterValue": "****"} in described["Parameters"]
    assert "hunter2" not in json.dumps(cfn.describe_stack_events(StackName=stack), default=str)

    cfn.update_termination_protection(StackName=stack, EnableTerminationProtection=True)
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["EnableTerminationProtection"] is True
    with pytest.raises(ClientError, match="TerminationProtection is enabled"):
        cfn.delete_stack(StackName=stack)
    cfn.update_termination_protection(StackName=stack, EnableTerminationProtection=False)
    cfn.delete_stack(StackName=stack)
    deleted = cfn.describe_stacks(StackName=described["StackId"])["Stacks"][0]
    assert deleted["StackStatus"] == "DELETE_COMPLETE"


def test_change_set_names_are_scoped_per_stack(aws: Any) -> None:
    cfn = aws("cloudformation")
    first = create_change_set(cfn, "scoped-one", SMALL_TEMPLATE, {"Secret": "a"}, "CREATE", name="deploy")
    second = create_change_set(cfn, "scoped-two", SMALL_TEMPLATE, {"Secret": "b"}, "CREATE", name="deploy")
    assert first["ChangeSetId"] != second["ChangeSetId"]
    assert cfn.describe_change_set(StackName="scoped-two", ChangeSetName="deploy")["StackName"] == "scoped-two"
    for stack in ("scoped-one", "scoped-two"):
        cfn.delete_stack(StackName=stack)


def test_async_operations_and_cancel_update(aws: Any, endpoint: str) -> None:
    cfn = aws("cloudformation")
    stack = unique("small-async")
    described = deploy(cfn, stack, SMALL_TEMPLATE, {"Secret": "s"}, "CREATE")
    assert described["StackStatus"] == "CREATE_COMPLETE"
    topic_a = physical_ids(cfn, stack)["TopicA"]
    # The update stops before TopicB: TopicA is updated, so the rollback has work to undo.
    hold = {"what": "stack-resource", "stack_name": stack, "logical_id": "TopicB"}
    control(endpoint, "hold", hold)
    try:
        change_set = create_change_set(cfn, stack, SMALL_TEMPLATE, {"Secret": "s", "Label": "two"}, "UPDATE")
        cfn.execute_change_set(StackName=stack, ChangeSetName=change_set["ChangeSetName"])
        wait_held(endpoint, stack, "TopicB")
        assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "UPDATE_IN_PROGRESS"
        assert aws("sns").get_topic_attributes(TopicArn=topic_a)["Attributes"]["DisplayName"] == "a-two"
        cfn.cancel_update_stack(StackName=stack)
    finally:
        control(endpoint, "release", hold)
    assert wait_settled(cfn, stack)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events(cfn, stack)]
    assert ("TopicB", "UPDATE_COMPLETE") not in statuses
    assert aws("sns").get_topic_attributes(TopicArn=topic_a)["Attributes"]["DisplayName"] == "a-one"
    # A delete held at its last resource (TopicA goes last) has returned and shows DELETE_IN_PROGRESS.
    hold = {"what": "stack-resource", "stack_name": stack, "logical_id": "TopicA"}
    control(endpoint, "hold", hold)
    try:
        cfn.delete_stack(StackName=stack)
        wait_held(endpoint, stack, "TopicA")
        assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "DELETE_IN_PROGRESS"
    finally:
        control(endpoint, "release", hold)
    assert wait_settled(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_stack_delete_removes_everything_but_the_retained_bucket(aws: Any, deployed: dict[str, Any]) -> None:
    cfn = aws("cloudformation")
    out = outputs(cfn.describe_stacks(StackName=deployed["stack"])["Stacks"][0])
    ids = physical_ids(cfn, deployed["stack"])
    stack_id = deployed["described"]["StackId"]
    cfn.delete_stack(StackName=deployed["stack"])
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError, match="does not exist"):
        cfn.describe_stacks(StackName=deployed["stack"])
    skipped = [e["LogicalResourceId"] for e in events(cfn, stack_id) if e["ResourceStatus"] == "DELETE_SKIPPED"]
    assert skipped == ["ImagesBucket"]
    assert aws("s3").head_bucket(Bucket=out["ImagesBucket"])
    # Other tests' stacks share this local AWS: only this stack's resources must be gone.
    distributions = aws("cloudfront").list_distributions()["DistributionList"].get("Items", [])
    assert out["DistributionId"] not in {d["Id"] for d in distributions}
    assert ids["HttpApi"] not in {a["ApiId"] for a in aws("apigatewayv2").get_apis()["Items"]}
    assert aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"{deployed['stack']}-")["MetricAlarms"] == []
    functions = {f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]}
    assert not functions & {out["FunctionName"], out["WorkerFunctionName"]}
    with pytest.raises(ClientError):
        aws("s3").get_bucket_policy(Bucket=out["ImagesBucket"])


def test_flag_delays_cloudfront_and_sigterm_stops_cleanly() -> None:
    process, url, _ = start_local_aws("--cloudfront-deploy-seconds", "30")
    try:
        cloudfront = boto3.client("cloudfront", region_name=REGION, endpoint_url=url)
        created = cloudfront.create_distribution(DistributionConfig={
            "CallerReference": "smoke", "Comment": "", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "b.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "x"},
        })
        assert cloudfront.get_distribution(Id=created["Distribution"]["Id"])["Distribution"]["Status"] == "InProgress"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "Traceback" not in stderr


def test_tls_only_bucket_policy_lets_secure_requests_through(aws: Any) -> None:
    """moto ignored IAM's `Bool` operator, so a TLS-only Deny locked everyone out."""
    s3 = aws("s3")
    s3.create_bucket(Bucket="tls-only", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps(policy))
    s3.put_object(Bucket="tls-only", Key="k", Body=b"v")
    assert s3.get_object(Bucket="tls-only", Key="k")["Body"].read() == b"v"


def test_conditional_puts_are_atomic(aws: Any) -> None:
    """Of many writers racing for one new key with If-None-Match, exactly one wins."""
    s3 = aws("s3")
    s3.create_bucket(Bucket="race", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    outcomes: list[str] = []
    lock = threading.Lock()

    def write(writer: int) -> None:
        try:
            s3.put_object(Bucket="race", Key="record", Body=str(writer).encode(), IfNoneMatch="*")
            result = "won"
        except ClientError as err:
            result = err.response["Error"]["Code"]
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("won") == 1, outcomes
    assert set(outcomes) == {"won", "PreconditionFailed"}, outcomes


def test_request_log_counts_aws_calls(aws: Any, endpoint: str) -> None:
    control(endpoint, "requests/clear", {})
    aws("cloudformation").describe_stacks()
    aws("s3").list_buckets()
    # The app's traffic to a deployed API is not an AWS call.
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(f"{endpoint}/_aws/execute-api/nosuchapi/health")
    with urllib.request.urlopen(f"{endpoint}/_local-aws/requests") as response:
        calls = json.load(response)["requests"]
    assert [(call["service"], call["operation"], call["caller"]) for call in calls] == [
        ("cloudformation", "DescribeStacks", "testing"),
        ("s3", "GET /", "testing"),
    ]


def test_expected_bucket_owner_is_checked(aws: Any, endpoint: str) -> None:
    """S3 answers 403 when `x-amz-expected-bucket-owner` is not the bucket's account; moto alone ignores it."""
    role = boto3.client("sts", region_name=REGION, endpoint_url=endpoint).assume_role(
        RoleArn="arn:aws:iam::111111111111:role/owner", RoleSessionName="elsewhere",
    )["Credentials"]
    theirs = boto3.client(
        "s3", region_name=REGION, endpoint_url=endpoint, aws_access_key_id=role["AccessKeyId"],
        aws_secret_access_key=role["SecretAccessKey"], aws_session_token=role["SessionToken"],
    )
    theirs.create_bucket(Bucket="owned-elsewhere", CreateBucketConfiguration={"LocationConstraint": REGION})
    theirs.put_object(Bucket="owned-elsewhere", Key="artifact.zip", Body=b"theirs")
    s3 = aws("s3")
    s3.create_bucket(Bucket="owned-here", CreateBucketConfiguration={"LocationConstraint": REGION})
    calls: list[Callable[[str], Any]] = [
        lambda owner: s3.head_bucket(Bucket="owned-elsewhere", ExpectedBucketOwner=owner),
        lambda owner: s3.get_object(Bucket="owned-elsewhere", Key="artifact.zip", ExpectedBucketOwner=owner),
        lambda owner: s3.put_object(Bucket="owned-elsewhere", Key="x", Body=b"1", ExpectedBucketOwner=owner),
        lambda owner: s3.list_objects_v2(Bucket="owned-elsewhere", ExpectedBucketOwner=owner),
    ]
    for call in calls:
        with pytest.raises(ClientError) as refused:
            call(ACCOUNT)
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        call("111111111111")
    assert s3.head_bucket(Bucket="owned-here", ExpectedBucketOwner=ACCOUNT)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket="owned-here", ExpectedBucketOwner="111111111111")
    # Without the header nothing changes.
    assert s3.get_object(Bucket="owned-elsewhere", Key="artifact.zip")["Body"].read() == b"theirs"


@pytest.mark.parametrize(("host", "path", "bucket"), [
    ("127.0.0.1:4566", "/my-bucket/a/b.zip", "my-bucket"),
    ("127.0.0.1:4566", "/my-bucket", "my-bucket"),
    ("my-bucket.s3.us-west-2.amazonaws.com", "/a", "my-bucket"),
    ("my-bucket.localhost:4566", "/a", "my-bucket"),
    ("127.0.0.1:4566", "/", None),
])
def test_bucket_of_a_request(host: str, path: str, bucket: str | None) -> None:
    assert bucket_of(host, path) == bucket


def test_embedded_metric_lines_become_metric_data() -> None:
    line = json.dumps({
        "_aws": {"Timestamp": 1795671112123, "CloudWatchMetrics": [{
            "Namespace": "PixelPrompt", "Dimensions": [["Environment"], ["Environment", "Provider"]],
            "Metrics": [{"Name": "ModelGenerations", "Unit": "Count"}, {"Name": "ModelFailures", "Unit": "Count"}],
        }]},
        "Environment": "dev", "Provider": "openai", "ModelGenerations": 1, "ModelFailures": 0,
    })
    data = metric_data(line)
    assert [(ns, d["MetricName"], d["Value"], [x["Name"] for x in d["Dimensions"]]) for ns, d in data] == [
        ("PixelPrompt", "ModelGenerations", 1.0, ["Environment"]),
        ("PixelPrompt", "ModelFailures", 0.0, ["Environment"]),
        ("PixelPrompt", "ModelGenerations", 1.0, ["Environment", "Provider"]),
        ("PixelPrompt", "ModelFailures", 0.0, ["Environment", "Provider"]),
    ]
    assert data[0][1]["Timestamp"].year == 2026
    assert metric_data('{"level":"INFO","message":"job finished"}') == []
    assert metric_data('{"_aws": {"CloudWatchMetrics": []}}') == []
    assert metric_data("START RequestId: 1 Version: $LATEST") == []
