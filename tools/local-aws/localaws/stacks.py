"""Stack, change-set and event records, and their API shapes.

Plain data kept by the deploy engine; `*_description` functions render them
the way the CloudFormation API returns them (NoEcho parameters masked).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .template import ResolvedParameters

IN_PROGRESS_SUFFIX = "_IN_PROGRESS"
# UPDATE_FAILED: an update that failed without rolling back (DisableRollback, or
# express mode) can be updated again, as on AWS.
UPDATABLE_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_FAILED"}


class Clock:
    """Strictly increasing UTC timestamps, so events sort the way they happened.

    `offset_seconds` shifts the server's clock against this machine's (the local AWS's
    `clock_offset_seconds` setting), as a real server's clock can differ from a client's.
    """

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self.offset_seconds = 0.0

    def now(self) -> datetime:
        current = datetime.now(UTC) + timedelta(seconds=self.offset_seconds)
        if current <= self._last:
            current = self._last + timedelta(milliseconds=1)
        self._last = current
        return current


CLOCK = Clock()


@dataclass
class StackResource:
    """One deployed resource as the stack remembers it."""

    logical_id: str
    resource_type: str
    physical_id: str
    properties: dict[str, Any]
    attributes: dict[str, Any]
    deletion_policy: str
    update_replace_policy: str
    status: str
    status_reason: str | None = None
    timestamp: datetime = field(default_factory=CLOCK.now)


@dataclass
class Stack:
    """A stack: its current template, parameters, resources and history."""

    stack_id: str
    name: str
    account_id: str
    region: str
    status: str
    creation_time: datetime
    template_body: str = ""
    template: dict[str, Any] = field(default_factory=dict)
    parameters: ResolvedParameters = field(default_factory=lambda: ResolvedParameters({}))
    tags: dict[str, str] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    status_reason: str | None = None
    last_updated_time: datetime | None = None
    deletion_time: datetime | None = None
    termination_protection: bool = False
    resources: dict[str, StackResource] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    change_set_id: str | None = None
    cancel_requested: bool = False
    disable_rollback: bool = False
    # The ClientRequestToken of the operation under way (or last run); its events carry it.
    operation_token: str | None = None
    pending_rollback: Any = None
    # Resources whose rollback is set to fail (logical id -> (reason, until fixed)),
    # collected during an update and handed to its rollback plan.
    rollback_traps: dict[str, tuple[str, bool]] = field(default_factory=dict)
    # SetStackPolicy's body, checked before each update (localaws.stack_policy).
    policy_body: str | None = None

    @property
    def live_resources(self) -> dict[str, StackResource]:
        """Resources that exist in the backends (not deleted, not retained-and-forgotten)."""
        return {
            k: r for k, r in self.resources.items()
            if r.status not in {"DELETE_COMPLETE", "DELETE_SKIPPED"} and r.physical_id
        }

    def set_status(self, status: str, reason: str | None = None) -> None:
        self.status = status
        self.status_reason = reason
        self.add_event(self.name, "AWS::CloudFormation::Stack", self.stack_id, status, reason)

    def add_event(
        self,
        logical_id: str,
        resource_type: str,
        physical_id: str | None,
        status: str,
        reason: str | None = None,
    ) -> None:
        event = {
            "StackId": self.stack_id,
            "EventId": str(uuid.uuid4()),
            "StackName": self.name,
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": physical_id or "",
            "ResourceType": resource_type,
            "Timestamp": CLOCK.now(),
            "ResourceStatus": status,
        }
        if reason:
            event["ResourceStatusReason"] = reason
        if self.operation_token:
            event["ClientRequestToken"] = self.operation_token
        self.events.append(event)


@dataclass
class ChangeSet:
    """A reviewed set of changes for one stack."""

    change_set_id: str
    name: str
    stack: Stack
    change_set_type: str
    template_body: str
    template: dict[str, Any]
    parameters: ResolvedParameters
    capabilities: list[str]
    tags: dict[str, str] | None
    description: str | None
    changes: list[dict[str, Any]]
    status: str
    execution_status: str
    status_reason: str | None = None
    creation_time: datetime = field(default_factory=CLOCK.now)
    # CreateChangeSet's DeploymentConfig ({"Mode": "EXPRESS"|"STANDARD", "DisableRollback": bool}).
    deployment_config: dict[str, Any] | None = None

    def default_disable_rollback(self) -> bool:
        """Rollback when ExecuteChangeSet does not say: off in express mode (unless the
        DeploymentConfig says otherwise), on in standard mode."""
        config = self.deployment_config or {}
        if "DisableRollback" in config:
            return str(config["DisableRollback"]).lower() == "true"
        return str(config.get("Mode", "STANDARD")).upper() == "EXPRESS"


def stack_description(stack: Stack) -> dict[str, Any]:
    """DescribeStacks' view of a stack."""
    out: dict[str, Any] = {
        "StackId": stack.stack_id,
        "StackName": stack.name,
        "ChangeSetId": stack.change_set_id,
        "Description": stack.template.get("Description"),
        "Parameters": stack.parameters.masked(),
        "CreationTime": stack.creation_time,
        "LastUpdatedTime": stack.last_updated_time,
        "DeletionTime": stack.deletion_time,
        "StackStatus": stack.status,
        "StackStatusReason": stack.status_reason,
        "DisableRollback": stack.disable_rollback,
        "NotificationARNs": stack.notification_arns,
        "Capabilities": stack.capabilities,
        "Outputs": stack.outputs or None,
        "Tags": [{"Key": k, "Value": v} for k, v in stack.tags.items()],
        "EnableTerminationProtection": stack.termination_protection,
        "RollbackConfiguration": {},
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }
    return {k: v for k, v in out.items() if v is not None}


def stack_summary(stack: Stack) -> dict[str, Any]:
    """ListStacks' view of a stack."""
    out = {
        "StackId": stack.stack_id,
        "StackName": stack.name,
        "TemplateDescription": stack.template.get("Description"),
        "CreationTime": stack.creation_time,
        "LastUpdatedTime": stack.last_updated_time,
        "DeletionTime": stack.deletion_time,
        "StackStatus": stack.status,
        "StackStatusReason": stack.status_reason,
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }
    return {k: v for k, v in out.items() if v is not None}


def resource_description(stack: Stack, resource: StackResource) -> dict[str, Any]:
    """DescribeStackResource(s)' and ListStackResources' view of a resource."""
    out = {
        "StackName": stack.name,
        "StackId": stack.stack_id,
        "LogicalResourceId": resource.logical_id,
        "PhysicalResourceId": resource.physical_id,
        "ResourceType": resource.resource_type,
        "Timestamp": resource.timestamp,
        "LastUpdatedTimestamp": resource.timestamp,
        "ResourceStatus": resource.status,
        "ResourceStatusReason": resource.status_reason,
        "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
    }
    return {k: v for k, v in out.items() if v is not None}


def _without_values(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changes as DescribeChangeSet shows them without `IncludePropertyValues`."""
    stripped = copy.deepcopy(changes)
    for change in stripped:
        for detail in change.get("ResourceChange", {}).get("Details", []):
            for key in ("BeforeValue", "AfterValue", "AttributeChangeType", "Path"):
                detail.get("Target", {}).pop(key, None)
    return stripped


def change_set_description(change_set: ChangeSet, include_values: bool = True) -> dict[str, Any]:
    """DescribeChangeSet's view of a change set (values and paths only with `IncludePropertyValues`)."""
    out = change_set_summary(change_set)
    out.update(
        {
            "Parameters": change_set.parameters.masked(),
            "Capabilities": change_set.capabilities,
            "Tags": [{"Key": k, "Value": v} for k, v in (change_set.tags or {}).items()],
            "NotificationARNs": [],
            "RollbackConfiguration": {},
            "Changes": change_set.changes if include_values else _without_values(change_set.changes),
        }
    )
    if change_set.deployment_config:
        out["DeploymentConfig"] = change_set.deployment_config
    return out


def change_set_summary(change_set: ChangeSet) -> dict[str, Any]:
    """ListChangeSets' view of a change set."""
    out = {
        "StackId": change_set.stack.stack_id,
        "StackName": change_set.stack.name,
        "ChangeSetId": change_set.change_set_id,
        "ChangeSetName": change_set.name,
        "ExecutionStatus": change_set.execution_status,
        "Status": change_set.status,
        "StatusReason": change_set.status_reason,
        "CreationTime": change_set.creation_time,
        "Description": change_set.description,
        "IncludeNestedStacks": False,
    }
    return {k: v for k, v in out.items() if v is not None}
