"""CloudWatch embedded metric format: metrics a function writes as log lines.

On AWS, CloudWatch Logs turns a log line that is a JSON object with an `_aws`
member (`{"_aws": {"Timestamp", "CloudWatchMetrics": [{"Namespace",
"Dimensions": [[...]], "Metrics": [{"Name", "Unit"}]}]}, "Name": value, ...}`)
into metric data, once per dimension set. `lambda_runtime` passes every line a
function writes through `publish`, so the metrics appear in moto's CloudWatch
(`GetMetricStatistics`, `ListMetrics`) as they would on AWS.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends

LOG = logging.getLogger("localaws.emf")


def metric_data(line: str) -> list[tuple[str, dict[str, Any]]]:
    """(namespace, datum) pairs in an EMF log line, in PutMetricData's shape; none for any other line."""
    if not line.startswith("{") or '"_aws"' not in line:
        return []
    try:
        record = json.loads(line)
        directive = record["_aws"]
        # Naive UTC, as moto keeps every metric timestamp.
        timestamp = datetime.fromtimestamp(int(directive["Timestamp"]) / 1000, tz=UTC).replace(tzinfo=None)
        out: list[tuple[str, dict[str, Any]]] = []
        for block in directive["CloudWatchMetrics"]:
            for dimension_set in block.get("Dimensions", [[]]) or [[]]:
                dimensions = [{"Name": name, "Value": str(record[name])} for name in dimension_set]
                for metric in block["Metrics"]:
                    value = record[metric["Name"]]
                    values = value if isinstance(value, list) else [value]
                    for number in values:
                        out.append((block["Namespace"], {
                            "MetricName": metric["Name"],
                            "Value": float(number),
                            "Unit": metric.get("Unit", "None"),
                            "Dimensions": dimensions,
                            "Timestamp": timestamp,
                        }))
        return out
    except (KeyError, TypeError, ValueError) as err:
        # CloudWatch drops an invalid EMF record the same way (the line stays a log line).
        LOG.warning("not a valid embedded-metric record (%s): %.200s", err, line)
        return []


def publish(account_id: str, region: str, line: str) -> None:
    """Records the metrics of `line`, if it is an EMF record, in that account's CloudWatch."""
    for namespace, datum in metric_data(line):
        cloudwatch_backends[account_id][region].put_metric_data(namespace, [datum])
