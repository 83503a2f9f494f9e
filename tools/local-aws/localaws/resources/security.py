"""AWS::KMS::Key on moto's KMS backend (the alarm topic's customer-managed key)."""

from __future__ import annotations

import json
from typing import Any

from moto.kms.models import KmsBackend, kms_backends

from . import Context, Created, ResourceHandler, tag_dict


def _kms(ctx: Context) -> KmsBackend:
    return kms_backends[ctx.account_id][ctx.region]


def _policy_text(policy: Any) -> str:
    return policy if isinstance(policy, str) else json.dumps(policy)


def _tags(props: dict[str, Any]) -> list[dict[str, str]]:
    return [{"TagKey": k, "TagValue": v} for k, v in tag_dict(props.get("Tags")).items()]


class KeyHandler(ResourceHandler):
    """Ref is the key id; `Arn` and `KeyId` for GetAtt. Deleting schedules deletion (7 days)."""

    type_name = "AWS::KMS::Key"
    attribute_names = frozenset({"Arn", "KeyId"})
    create_only = frozenset({"KeySpec", "MultiRegion"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        key = _kms(ctx).create_key(
            policy=_policy_text(props["KeyPolicy"]) if "KeyPolicy" in props else None,
            key_usage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=props.get("Description", ""),
            tags=_tags(props),
            multi_region=str(props.get("MultiRegion", False)).lower() == "true",
        )
        if str(props.get("EnableKeyRotation", False)).lower() == "true":
            _kms(ctx).enable_key_rotation(key.id)
        return Created(key.id, {"Arn": key.arn, "KeyId": key.id})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        backend = _kms(ctx)
        if "KeyPolicy" in new:
            backend.put_key_policy(physical_id, _policy_text(new["KeyPolicy"]))
        backend.update_key_description(physical_id, new.get("Description", ""))
        if str(new.get("EnableKeyRotation", False)).lower() == "true":
            backend.enable_key_rotation(physical_id)
        else:
            backend.disable_key_rotation(physical_id)
        key = backend.describe_key(physical_id)
        return {"Arn": key.arn, "KeyId": key.id}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        backend = _kms(ctx)
        if physical_id in backend.keys:
            backend.schedule_key_deletion(physical_id, int(props.get("PendingWindowInDays", 7)))


HANDLERS = [KeyHandler()]
