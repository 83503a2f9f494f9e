"""Smithy RPC v2 CBOR (the Rust SDK's CloudWatch protocol) answered by moto's JSON
protocol, and S3's GetBucketVersioning document, over real HTTP.

Run: `.venv/bin/pytest tools/local-aws/test_rpcv2.py`.
"""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import botocore.session
from botocore.serialize import RpcV2CBORSerializer

from harness import REGION
from localaws import rpcv2

AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20261129/us-west-2/monitoring/aws4_request, "
        "SignedHeaders=host, Signature=0")


def cbor_call(endpoint: str, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """One CloudWatch call as an RPC v2 CBOR client sends it; the answer decoded."""
    model = botocore.session.get_session().get_service_model("cloudwatch").operation_model(operation)
    request = RpcV2CBORSerializer().serialize_to_request(params, model)
    headers = {str(k): str(v) for k, v in request["headers"].items()}
    headers["Authorization"] = AUTH
    http = urllib.request.Request(f"{endpoint}{request['url_path']}", data=request["body"], method="POST",
                                  headers=headers)
    try:
        with urllib.request.urlopen(http, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, rpcv2.decode(response.read())
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, rpcv2.decode(err.read())


def test_cloudwatch_answers_rpc_v2_cbor_from_the_same_backend(endpoint: str) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION, endpoint_url=endpoint,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
    cloudwatch.put_metric_alarm(
        AlarmName="errors", Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=300,
        EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold")

    status, headers, body = cbor_call(endpoint, "DescribeAlarms", {"AlarmNames": ["errors", "absent"]})
    assert status == 200, body
    assert headers["smithy-protocol"] == "rpc-v2-cbor" and headers["content-type"] == "application/cbor"
    [alarm] = body["MetricAlarms"]
    assert alarm["AlarmName"] == "errors" and alarm["Threshold"] == 5
    assert isinstance(alarm["StateUpdatedTimestamp"], datetime.datetime), "a timestamp is CBOR tag 1"

    status, _, body = cbor_call(endpoint, "SetAlarmState",
                                {"AlarmName": "errors", "StateValue": "ALARM", "StateReason": "7 errors"})
    assert status == 200, body
    assert cloudwatch.describe_alarms(AlarmNames=["errors"])["MetricAlarms"][0]["StateValue"] == "ALARM"

    status, _, body = cbor_call(endpoint, "SetAlarmState",
                                {"AlarmName": "nope", "StateValue": "OK", "StateReason": "x"})
    assert status == 404 and body["__type"] == "ResourceNotFound", body

    with urllib.request.urlopen(f"{endpoint}/_local-aws/requests", timeout=10) as response:
        operations = [call["operation"] for call in json.loads(response.read())["requests"]]
    assert "DescribeAlarms" in operations and not any("/service/" in op for op in operations), operations


def test_get_bucket_versioning_answers_s3s_document(endpoint: str) -> None:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket="versioned", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    request = urllib.request.Request(f"{endpoint}/versioned?versioning", headers={"Authorization": AUTH.replace(
        "monitoring", "s3")})
    with urllib.request.urlopen(request, timeout=10) as response:
        document = response.read().decode()
    assert "<VersioningConfiguration " in document and "<Status>Enabled</Status>" in document, document
    assert s3.get_bucket_versioning(Bucket="versioned")["Status"] == "Enabled"
