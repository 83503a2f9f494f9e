"""AWS::SQS::Queue on moto's SQS backend (the worker's dead-letter queue)."""

from __future__ import annotations

from typing import Any

from moto.sqs.models import SQSBackend, sqs_backends

from . import Context, Created, ResourceHandler, tag_dict

# Properties that are queue attributes of the same name.
_ATTRIBUTES = [
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
]


def _sqs(ctx: Context) -> SQSBackend:
    return sqs_backends[ctx.account_id][ctx.region]


def _attributes(props: dict[str, Any]) -> dict[str, str]:
    return {key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
            for key in _ATTRIBUTES if key in props}


class QueueHandler(ResourceHandler):
    """Ref is the queue URL (as AWS forms it); `Arn`, `QueueName`, `QueueUrl` for GetAtt."""

    type_name = "AWS::SQS::Queue"
    attribute_names = frozenset({"Arn", "QueueName", "QueueUrl"})
    create_only = frozenset({"QueueName", "FifoQueue"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        fifo = str(props.get("FifoQueue", False)).lower() == "true"
        name = props.get("QueueName") or ctx.generated_name(80 - (5 if fifo else 0)) + (".fifo" if fifo else "")
        attributes = _attributes(props)
        if fifo:
            attributes["FifoQueue"] = "true"
        queue = _sqs(ctx).create_queue(name, tags=tag_dict(props.get("Tags")), **attributes)
        return Created(self._url(ctx, name), self._attributes(ctx, queue))

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        backend = _sqs(ctx)
        name = physical_id.rsplit("/", 1)[-1]
        queue = backend.set_queue_attributes(name, _attributes(new))
        removed = set(queue.tags) - set(tag_dict(new.get("Tags")))
        if removed:
            backend.untag_queue(name, list(removed))
        if new.get("Tags"):
            backend.tag_queue(name, tag_dict(new.get("Tags")))
        return self._attributes(ctx, queue)

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        backend = _sqs(ctx)
        name = physical_id.rsplit("/", 1)[-1]
        if name in backend.queues:
            backend.delete_queue(name)

    @staticmethod
    def _url(ctx: Context, name: str) -> str:
        return f"https://sqs.{ctx.region}.amazonaws.com/{ctx.account_id}/{name}"

    @classmethod
    def _attributes(cls, ctx: Context, queue: Any) -> dict[str, Any]:
        return {"Arn": queue.queue_arn, "QueueName": queue.name, "QueueUrl": cls._url(ctx, queue.name)}


HANDLERS = [QueueHandler()]
