"""Resource handlers: how each CloudFormation type maps onto moto's service backends.

A handler creates, updates and deletes one resource type through the same
moto backend that serves that service's API, so whatever a stack deploys is
visible to `s3api`, `cloudfront`, `apigatewayv2`, ... calls. Only the types the
Pixel Prompt template uses are registered; any other type fails loudly.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

from moto.utilities.utils import get_partition


class ResourceFailure(Exception):
    """A handler refused or failed; the message becomes ResourceStatusReason."""


@dataclass(frozen=True)
class Context:
    """Where a resource lives: account, region and the owning stack."""

    account_id: str
    region: str
    stack_name: str
    logical_id: str

    @property
    def partition(self) -> str:
        return get_partition(self.region)

    def generated_name(self, max_length: int = 64, lowercase: bool = False) -> str:
        """A unique physical name the way CloudFormation makes one: stack-logical-SUFFIX."""
        suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=12))
        room = max_length - len(suffix) - 2
        stack_part = self.stack_name[: max(room // 2, room - len(self.logical_id))]
        logical_part = self.logical_id[: room - len(stack_part)]
        name = f"{stack_part}-{logical_part}-{suffix}"
        return name.lower() if lowercase else name


@dataclass
class Created:
    """Result of a create: the physical id (Ref value) and GetAtt attributes."""

    physical_id: str
    attributes: dict[str, Any]


class ResourceHandler:
    """Base class: one subclass per CloudFormation resource type.

    `create_only` lists properties whose change requires replacement, which the
    change-set preview reports as `Replacement: True`; `attribute_names` are the
    names `Fn::GetAtt` accepts.
    """

    type_name = ""
    create_only: frozenset[str] = frozenset()
    attribute_names: frozenset[str] = frozenset()

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        raise NotImplementedError

    def update(
        self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        """Apply `new` in place and return the (possibly changed) attributes."""
        raise NotImplementedError

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        raise NotImplementedError


def tag_dict(tags: Any) -> dict[str, str]:
    """CloudFormation tags come as [{Key, Value}] or as a map; return a map."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t["Value"]) for t in tags or []}


def camel_keys(node: Any) -> Any:
    """PascalCase keys -> camelCase keys, recursively (API Gateway v2 JSON style)."""
    if isinstance(node, dict):
        return {k[:1].lower() + k[1:]: camel_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [camel_keys(v) for v in node]
    return node


def _registry() -> dict[str, ResourceHandler]:
    from . import api, cdn, compute, monitoring, queues, security, storage

    handlers: list[ResourceHandler] = [
        *storage.HANDLERS,
        *cdn.HANDLERS,
        *compute.HANDLERS,
        *api.HANDLERS,
        *monitoring.HANDLERS,
        *queues.HANDLERS,
        *security.HANDLERS,
    ]
    return {handler.type_name: handler for handler in handlers}


_HANDLERS: dict[str, ResourceHandler] = {}


def handler_for(type_name: str) -> ResourceHandler:
    """The handler for a resource type, or a failure naming the unsupported type."""
    if not _HANDLERS:
        _HANDLERS.update(_registry())
    try:
        return _HANDLERS[type_name]
    except KeyError as err:
        raise ResourceFailure(
            f"Resource type {type_name} is not supported by the local AWS"
        ) from err
