"""AWS::SNS::Topic, AWS::SNS::Subscription and AWS::CloudWatch::Alarm."""

from __future__ import annotations

from typing import Any

from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
from moto.sns.models import SNSBackend, sns_backends

from . import Context, Created, ResourceHandler, tag_dict


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
        return _cloudwatch(ctx).put_metric_alarm(
            name=name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
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


HANDLERS = [TopicHandler(), SubscriptionHandler(), AlarmHandler()]
