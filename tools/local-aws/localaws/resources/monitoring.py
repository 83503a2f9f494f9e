"""AWS::SNS::Topic, AWS::SNS::TopicPolicy, AWS::SNS::Subscription, AWS::CloudWatch::Alarm
(single-metric and metric-math) and AWS::Budgets::Budget."""

from __future__ import annotations

import json
from typing import Any

from moto.budgets.models import BudgetsBackend, budgets_backends
from moto.cloudwatch.models import (
    CloudWatchBackend,
    Dimension,
    Metric,
    MetricDataQuery,
    MetricStat,
    cloudwatch_backends,
)
from moto.sns.models import SNSBackend, sns_backends

from . import Context, Created, ResourceFailure, ResourceHandler, tag_dict


def _sns(ctx: Context) -> SNSBackend:
    return sns_backends[ctx.account_id][ctx.region]


def _cloudwatch(ctx: Context) -> CloudWatchBackend:
    return cloudwatch_backends[ctx.account_id][ctx.region]


_TOPIC_ATTRIBUTES = ["DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication"]


class TopicHandler(ResourceHandler):
    type_name = "AWS::SNS::Topic"
    attribute_names = frozenset({"TopicArn", "TopicName"})
    create_only = frozenset({"TopicName", "FifoTopic"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        name = props.get("TopicName") or ctx.generated_name(256)
        attributes = {k: str(props[k]) for k in _TOPIC_ATTRIBUTES if k in props}
        topic = _sns(ctx).create_topic(name, attributes, tag_dict(props.get("Tags")))
        for subscription in props.get("Subscription", []):
            _sns(ctx).subscribe(topic.arn, subscription["Endpoint"], subscription["Protocol"])
        return Created(topic.arn, {"TopicArn": topic.arn, "TopicName": name})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        backend = _sns(ctx)
        topic = backend.get_topic(physical_id)
        topic.display_name = new.get("DisplayName", "")
        topic.kms_master_key_id = new.get("KmsMasterKeyId", "")
        backend.untag_resource(physical_id, list(backend.list_tags_for_resource(physical_id)))
        backend.tag_resource(physical_id, tag_dict(new.get("Tags")))
        return {"TopicArn": physical_id, "TopicName": topic.name}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        _sns(ctx).delete_topic(physical_id)


class TopicPolicyHandler(ResourceHandler):
    """Sets the access policy of each topic in `Topics`; deleting restores the default policy."""

    type_name = "AWS::SNS::TopicPolicy"
    attribute_names = frozenset({"Id"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        self._apply(ctx, props)
        return Created(ctx.generated_name(128), {"Id": ctx.logical_id})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        for arn in set(old.get("Topics", [])) - set(new.get("Topics", [])):
            self._restore_default(ctx, arn)
        self._apply(ctx, new)
        return {"Id": ctx.logical_id}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        for arn in props.get("Topics", []):
            self._restore_default(ctx, arn)

    @staticmethod
    def _apply(ctx: Context, props: dict[str, Any]) -> None:
        document = props["PolicyDocument"]
        text = document if isinstance(document, str) else json.dumps(document)
        for arn in props.get("Topics", []):
            _sns(ctx).set_topic_attribute(arn, "policy", text)

    @staticmethod
    def _restore_default(ctx: Context, arn: str) -> None:
        backend = _sns(ctx)
        if arn in backend.topics:
            topic = backend.topics[arn]
            topic._policy_json = topic._create_default_topic_policy(ctx.region, topic.account_id, topic.name)


class SubscriptionHandler(ResourceHandler):
    type_name = "AWS::SNS::Subscription"
    create_only = frozenset({"TopicArn", "Protocol", "Endpoint"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        subscription = _sns(ctx).subscribe(props["TopicArn"], props["Endpoint"], props["Protocol"])
        return Created(subscription.arn, {})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        return {}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        _sns(ctx).unsubscribe(physical_id)


class AlarmHandler(ResourceHandler):
    type_name = "AWS::CloudWatch::Alarm"
    attribute_names = frozenset({"Arn"})
    create_only = frozenset({"AlarmName"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        name = props.get("AlarmName") or ctx.generated_name(255)
        alarm = self._put(ctx, name, props)
        return Created(name, {"Arn": alarm.alarm_arn})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        alarm = self._put(ctx, physical_id, new)
        return {"Arn": alarm.alarm_arn}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        _cloudwatch(ctx).delete_alarms([physical_id])

    @staticmethod
    def _put(ctx: Context, name: str, props: dict[str, Any]) -> Any:
        datapoints = props.get("DatapointsToAlarm")
        # Through a dict: moto annotates the optional ones (namespace, period, ...) as required str/int.
        arguments: dict[str, Any] = dict(
            name=name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            metric_data_queries=_metric_queries(props.get("Metrics")),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props["Period"]) if "Period" in props else None,
            threshold=float(props["Threshold"]),
            statistic=props.get("Statistic"),
            description=props.get("AlarmDescription"),
            dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            datapoints_to_alarm=int(datapoints) if datapoints is not None else None,
            extended_statistic=props.get("ExtendedStatistic"),
            unit=props.get("Unit"),
            actions_enabled=str(props.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=props.get("TreatMissingData"),
            tags=[{"Key": k, "Value": v} for k, v in tag_dict(props.get("Tags")).items()],
        )
        return _cloudwatch(ctx).put_metric_alarm(**arguments)


def _metric_queries(metrics: list[dict[str, Any]] | None) -> list[MetricDataQuery] | None:
    """A metric-math alarm's `Metrics`, as moto's PutMetricAlarm parses them."""
    if not metrics:
        return None
    queries = []
    for metric in metrics:
        stat = metric.get("MetricStat")
        metric_stat = None
        if stat:
            spec = stat["Metric"]
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=spec["MetricName"],
                    namespace=spec.get("Namespace", ""),
                    dimensions=[Dimension(d["Name"], d["Value"]) for d in spec.get("Dimensions", [])],
                ),
                period=str(stat["Period"]),
                stat=stat["Stat"],
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=metric["Id"],
                label=metric.get("Label"),  # type: ignore[arg-type]
                period=str(metric["Period"]) if "Period" in metric else None,  # type: ignore[arg-type]
                return_data=str(metric.get("ReturnData", True)).lower(),
                expression=metric.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


def _budgets(ctx: Context) -> BudgetsBackend:
    # Budgets is a global service.
    return budgets_backends[ctx.account_id][ctx.partition]


def _budget_spec(props: dict[str, Any], name: str) -> dict[str, Any]:
    budget = dict(props["Budget"])
    budget["BudgetName"] = name
    limit = budget.get("BudgetLimit")
    if limit is not None:
        budget["BudgetLimit"] = {"Amount": str(limit["Amount"]), "Unit": limit.get("Unit", "USD")}
    return budget


def _notifications(props: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for entry in props.get("NotificationsWithSubscribers", []):
        notification = dict(entry["Notification"])
        notification["Threshold"] = float(notification["Threshold"])
        notification.setdefault("ThresholdType", "PERCENTAGE")
        out.append({"Notification": notification, "Subscribers": list(entry.get("Subscribers", []))})
    return out


class BudgetHandler(ResourceHandler):
    """Ref is the budget name. A changed `Budget` or notification list replaces the budget in place."""

    type_name = "AWS::Budgets::Budget"

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        name = props["Budget"].get("BudgetName") or ctx.generated_name(100)
        self._put(ctx, name, props)
        return Created(name, {})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        _budgets(ctx).delete_budget(ctx.account_id, physical_id)
        self._put(ctx, physical_id, new)
        return {}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        backend = _budgets(ctx)
        if physical_id in backend.budgets[ctx.account_id]:
            backend.delete_budget(ctx.account_id, physical_id)

    @staticmethod
    def _put(ctx: Context, name: str, props: dict[str, Any]) -> None:
        try:
            _budgets(ctx).create_budget(ctx.account_id, _budget_spec(props, name), _notifications(props))
        except Exception as err:  # moto's own validation errors
            raise ResourceFailure(f"Resource handler returned message: \"{err}\"") from err


HANDLERS = [TopicHandler(), TopicPolicyHandler(), SubscriptionHandler(), AlarmHandler(), BudgetHandler()]
