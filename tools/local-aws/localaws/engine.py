"""The deploy engine: change sets, create/update/delete with per-resource events and rollback.

Replaces moto's CloudFormation stack logic (which skips unknown types, has no
rollback and no per-resource events) while every resource still lives in
moto's service backends through `resources.handler_for`.

Concurrency: one re-entrant lock guards all stacks. Operations run inline, or
in a worker thread when `resource_delay_ms` > 0; the worker drops the lock
while it sleeps between resources so the API can observe `*_IN_PROGRESS`.
While operations are held (`hold_operations`), an operation requested starts
only after `release_operations`: the call returns and the stack still shows its
previous status and events, as AWS's asynchronous operations can. A resource
hold (`hold_resource`) runs the stack's next operation in a worker that stops
just before that resource (lock dropped, `reached` set) until `release_resource`;
a CancelUpdateStack sent meanwhile takes effect there, so a test can stop an
update with part of it applied without timing anything.

Each operation carries the caller's `ClientRequestToken`; every event it causes
repeats it. `DisableRollback` (ExecuteChangeSet, CreateStack, UpdateStack) is
honoured: a failure then leaves the stack `CREATE_FAILED` / `UPDATE_FAILED`.
"""

from __future__ import annotations

import copy
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import ServiceException

from . import stack_policy
from .plan import (
    check_attribute,
    check_types,
    plan_changes,
    pseudo_parameters,
    resolve_outputs,
)
from .resources import Context, ResourceFailure, handler_for
from .stacks import (
    CLOCK,
    IN_PROGRESS_SUFFIX,
    UPDATABLE_STATES,
    ChangeSet,
    Stack,
    StackResource,
)
from .template import (
    ResolvedParameters,
    Resolver,
    TemplateError,
    dependency_order,
    parse_template,
    resolve_parameters,
)

NO_CHANGES_REASON = (
    "The submitted information didn't contain changes. "
    "Submit different information to create a change set."
)


class CfnError(Exception):
    """An error the CloudFormation API returns to the caller."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Failure(Exception):
    """A resource operation failed; the stack operation must roll back."""

    def __init__(self, logical_id: str | None, reason: str):
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason


@dataclass
class FailureMarker:
    """An injected failure, armed through `POST /_local-aws/fail`.

    `fail`: the resource's next create or update fails. `rollback_fails`: its update is
    applied and fails, and so does its rollback. `rollback_only`: its update succeeds,
    and its rollback (after another resource failed) fails. The marker fires once; with
    `until_fixed` a rollback failure repeats on every ContinueUpdateRollback until
    `POST /_local-aws/fix` (as on AWS, where it fails until its cause is fixed) or until
    ContinueUpdateRollback skips the resource.
    """

    reason: str
    mode: str = "fail"
    until_fixed: bool = False


@dataclass
class ChangeSetRequest:
    """CreateChangeSet's inputs, already read from the request."""

    stack_name: str
    change_set_name: str
    change_set_type: str
    template_body: str | None
    use_previous_template: bool
    parameters: list[dict[str, Any]]
    capabilities: list[str]
    tags: dict[str, str] | None
    description: str | None
    notification_arns: list[str]
    deployment_config: dict[str, Any] | None = None


@dataclass
class JournalEntry:
    """What an update did to one resource, so a rollback can undo it."""

    kind: str  # "create" | "modify" | "replace"
    logical_id: str
    before: StackResource | None


@dataclass
class Snapshot:
    """A stack's definition before an update, restored by a rollback."""

    template_body: str
    template: dict[str, Any]
    parameters: ResolvedParameters
    tags: dict[str, str]
    outputs: list[dict[str, Any]]


@dataclass
class RollbackPlan:
    """Undo steps still to run; kept on the stack while in UPDATE_ROLLBACK_FAILED.

    `traps`: logical id -> (reason, until_fixed) of the resources whose rollback is set
    to fail. `failed`: the resources whose rollback failed, the only ones
    ContinueUpdateRollback may skip.
    """

    entries: list[JournalEntry]
    snapshot: Snapshot
    traps: dict[str, tuple[str, bool]] = field(default_factory=dict)
    cleanup: list[StackResource] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)


def _failed_reason(operation: str, failure: Failure) -> str:
    if failure.logical_id is None:
        return failure.reason
    return f"The following resource(s) failed to {operation}: [{failure.logical_id}]. "


def _reason(err: Exception) -> str:
    """A one-line ResourceStatusReason for any error a handler or backend raised."""
    if isinstance(err, (ResourceFailure, TemplateError)):
        return str(err)
    error_type = getattr(err, "error_type", None)
    if error_type:  # moto's REST-style errors
        return f"{error_type}: {getattr(err, 'message', err)}"
    if isinstance(err, ServiceException):
        return f"{err.code}: {err.message}"
    return f"{type(err).__name__}: {err}"


@dataclass
class ResourceHold:
    """One armed resource hold: `reached` once an operation waits at it, `gate` lets it go."""

    reached: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)


class Engine:
    """All stacks of all accounts and regions, and the operations on them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.resource_delay_ms = 0
        self._worker = threading.local()
        self._gate: threading.Event | None = None
        self._resource_holds: dict[tuple[str, str], ResourceHold] = {}
        self.reset()

    def hold_resource(self, stack_name: str, logical_id: str) -> None:
        """The stack's next operation stops before `logical_id` until `release_resource`."""
        self._resource_holds.setdefault((stack_name, logical_id), ResourceHold())

    def release_resource(self, stack_name: str, logical_id: str) -> None:
        hold = self._resource_holds.pop((stack_name, logical_id), None)
        if hold is not None:
            hold.gate.set()

    def resource_holds(self) -> list[dict[str, Any]]:
        """The armed resource holds, and whether an operation is waiting at each."""
        return [
            {"stack_name": stack_name, "logical_id": logical_id, "reached": hold.reached.is_set()}
            for (stack_name, logical_id), hold in sorted(self._resource_holds.items())
        ]

    def hold_operations(self) -> None:
        """Stack operations requested from now on wait for `release_operations`."""
        if self._gate is None:
            self._gate = threading.Event()

    def release_operations(self) -> None:
        if self._gate is not None:
            self._gate.set()
            self._gate = None

    def reset(self) -> None:
        """Forget every stack, change set and armed failure."""
        with self.lock:
            self.stacks: dict[str, Stack] = {}
            self.change_sets: dict[str, ChangeSet] = {}
            self.markers: dict[tuple[str, str], FailureMarker] = {}

    # ---- lookups -------------------------------------------------------

    def find_stack(self, account_id: str, region: str, name_or_id: str) -> Stack:
        """A live stack by name, or any stack (also deleted) by id."""
        stack = self.stacks.get(name_or_id)
        if stack is not None and (stack.account_id, stack.region) == (account_id, region):
            return stack
        for stack in self.stacks.values():
            if (stack.account_id, stack.region, stack.name) == (account_id, region, name_or_id) and stack.status != "DELETE_COMPLETE":
                return stack
        raise CfnError("ValidationError", f"Stack with id {name_or_id} does not exist")

    def list_stacks(self, account_id: str, region: str) -> list[Stack]:
        return [s for s in self.stacks.values() if (s.account_id, s.region) == (account_id, region)]

    def find_change_set(self, account_id: str, region: str, name_or_arn: str, stack_name: str | None) -> ChangeSet:
        """A change set by ARN, or by name within the named stack."""
        change_set = self.change_sets.get(name_or_arn)
        if change_set is None and stack_name:
            stack = self.find_stack(account_id, region, stack_name)
            change_set = next(
                (c for c in self.change_sets.values() if c.stack is stack and c.name == name_or_arn), None
            )
        if change_set is None:
            raise CfnError("ChangeSetNotFound", f"ChangeSet [{name_or_arn}] does not exist")
        return change_set

    def list_change_sets(self, account_id: str, region: str, stack_name: str) -> list[ChangeSet]:
        stack = self.find_stack(account_id, region, stack_name)
        return [c for c in self.change_sets.values() if c.stack is stack]

    # ---- change sets ---------------------------------------------------

    def create_change_set(self, account_id: str, region: str, request: ChangeSetRequest) -> ChangeSet:
        """Validate the request, compute the changes, and record the change set."""
        if not re.fullmatch(r"[a-zA-Z][-a-zA-Z0-9]*", request.change_set_name):
            raise CfnError("ValidationError", f"ChangeSet name '{request.change_set_name}' must match [a-zA-Z][-a-zA-Z0-9]*")
        if request.change_set_type == "CREATE":
            stack = self._stack_for_create(account_id, region, request)
        else:
            stack = self.find_stack(account_id, region, request.stack_name)
            self._require_updatable(stack)
        if any(c.stack is stack and c.name == request.change_set_name for c in self.change_sets.values()):
            raise CfnError("AlreadyExistsException", f"ChangeSet [{request.change_set_name}] already exists")
        body = stack.template_body if request.use_previous_template else request.template_body
        if not body:
            raise CfnError("ValidationError", "Either Template URL or Template Body must be specified.")
        template, parameters = self._parse(stack, body, request.parameters)
        self._check_capabilities(template, request.capabilities)
        try:
            changes = plan_changes(stack, template, parameters)
        except TemplateError as err:
            raise CfnError("ValidationError", str(err)) from err
        change_set = ChangeSet(
            change_set_id=f"arn:aws:cloudformation:{region}:{account_id}:changeSet/{request.change_set_name}/{uuid.uuid4()}",
            name=request.change_set_name,
            stack=stack,
            change_set_type=request.change_set_type,
            template_body=body,
            template=template,
            parameters=parameters,
            capabilities=request.capabilities,
            tags=request.tags,
            description=request.description,
            changes=changes,
            status="CREATE_COMPLETE",
            execution_status="AVAILABLE",
            deployment_config=request.deployment_config,
        )
        if request.change_set_type == "UPDATE" and self._is_no_op(stack, change_set):
            change_set.status, change_set.execution_status = "FAILED", "UNAVAILABLE"
            change_set.status_reason = NO_CHANGES_REASON
        self.change_sets[change_set.change_set_id] = change_set
        return change_set

    def _stack_for_create(self, account_id: str, region: str, request: ChangeSetRequest) -> Stack:
        try:
            stack = self.find_stack(account_id, region, request.stack_name)
        except CfnError:
            stack_id = f"arn:aws:cloudformation:{region}:{account_id}:stack/{request.stack_name}/{uuid.uuid4()}"
            stack = Stack(
                stack_id=stack_id,
                name=request.stack_name,
                account_id=account_id,
                region=region,
                status="REVIEW_IN_PROGRESS",
                creation_time=CLOCK.now(),
                notification_arns=request.notification_arns,
            )
            self.stacks[stack_id] = stack
            stack.set_status("REVIEW_IN_PROGRESS", "User Initiated")
            return stack
        if stack.status != "REVIEW_IN_PROGRESS":
            raise CfnError(
                "AlreadyExistsException",
                f"Stack [{request.stack_name}] already exists and cannot be created again with the changeSet [{request.change_set_name}].",
            )
        return stack

    @staticmethod
    def _require_updatable(stack: Stack) -> None:
        if stack.status not in UPDATABLE_STATES:
            raise CfnError("ValidationError", f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")

    @staticmethod
    def _parse(stack: Stack, body: str, given: list[dict[str, Any]]) -> tuple[dict[str, Any], ResolvedParameters]:
        values = {}
        for param in given:
            key = param["ParameterKey"]
            if str(param.get("UsePreviousValue", "")).lower() == "true":
                if key not in stack.parameters.values:
                    raise CfnError("ValidationError", f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a parameter key not in the previous template")
                previous = stack.parameters.values[key]
                values[key] = ",".join(previous) if isinstance(previous, list) else previous
            else:
                values[key] = param.get("ParameterValue", "")
        try:
            template = parse_template(body)
            check_types(template)
            return template, resolve_parameters(template, values)
        except TemplateError as err:
            raise CfnError("ValidationError", str(err)) from err

    @staticmethod
    def _check_capabilities(template: dict[str, Any], capabilities: list[str]) -> None:
        iam = [b for b in template["Resources"].values() if b.get("Type", "").startswith("AWS::IAM::")]
        if not iam or "CAPABILITY_NAMED_IAM" in capabilities:
            return
        named = any("RoleName" in (b.get("Properties") or {}) for b in iam)
        needed = "CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM"
        if named or "CAPABILITY_IAM" not in capabilities:
            raise CfnError("InsufficientCapabilitiesException", f"Requires capabilities : [{needed}]")

    @staticmethod
    def _is_no_op(stack: Stack, change_set: ChangeSet) -> bool:
        same_tags = change_set.tags is None or change_set.tags == stack.tags
        return (
            not change_set.changes
            and change_set.template == stack.template
            and change_set.parameters.values == stack.parameters.values
            and same_tags
        )

    def delete_change_set(self, change_set: ChangeSet) -> None:
        if change_set.execution_status == "EXECUTE_IN_PROGRESS":
            raise CfnError("InvalidChangeSetStatus", f"ChangeSet [{change_set.change_set_id}] cannot be deleted while it is being executed")
        self.change_sets.pop(change_set.change_set_id, None)

    def execute_change_set(self, change_set: ChangeSet, token: str | None = None,
                           disable_rollback: bool | None = None) -> None:
        """Start the change set's create or update (inline, or in the background)."""
        stack = change_set.stack
        if change_set.execution_status != "AVAILABLE":
            raise CfnError(
                "InvalidChangeSetStatus",
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current execution status of [{change_set.execution_status}]",
            )
        if change_set.change_set_type == "UPDATE":
            self._require_updatable(stack)
        for other in [c for c in self.change_sets.values() if c.stack is stack and c is not change_set]:
            self.change_sets.pop(other.change_set_id)
        change_set.execution_status = "EXECUTE_IN_PROGRESS"

        if disable_rollback is None:
            disable_rollback = change_set.default_disable_rollback()

        def start() -> None:
            stack.operation_token = token
            stack.disable_rollback = disable_rollback
            # CreateStack/UpdateStack run through a change set nobody sees.
            stack.change_set_id = None if change_set.name.startswith("direct-") else change_set.change_set_id
            stack.cancel_requested = False
            if change_set.change_set_type == "CREATE":
                stack.set_status("CREATE_IN_PROGRESS", "User Initiated")
                self._finish(change_set, self._create(stack, change_set))
            else:
                snapshot = Snapshot(stack.template_body, stack.template, stack.parameters, dict(stack.tags),
                                    stack.outputs)
                stack.set_status("UPDATE_IN_PROGRESS", "User Initiated")
                self._finish(change_set, self._update(stack, change_set, snapshot))

        self._run(stack, start)

    @staticmethod
    def _finish(change_set: ChangeSet, succeeded: bool) -> None:
        change_set.execution_status = "EXECUTE_COMPLETE" if succeeded else "EXECUTE_FAILED"

    # ---- stack-level operations -----------------------------------------

    def delete_stack(self, stack: Stack, retain: set[str], token: str | None = None) -> None:
        if stack.termination_protection:
            raise CfnError(
                "ValidationError",
                f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled",
            )
        if stack.status.endswith(IN_PROGRESS_SUFFIX) and stack.status != "REVIEW_IN_PROGRESS":
            raise CfnError("ValidationError", f"Stack [{stack.name}] is in {stack.status} state and can not be deleted")
        for change_set in [c for c in self.change_sets.values() if c.stack is stack]:
            self.change_sets.pop(change_set.change_set_id)

        def start() -> None:
            stack.operation_token = token
            stack.set_status("DELETE_IN_PROGRESS", "User Initiated")
            self._delete(stack, retain)

        self._run(stack, start)

    def cancel_update(self, stack: Stack) -> None:
        if stack.status != "UPDATE_IN_PROGRESS":
            raise CfnError("ValidationError", "CancelUpdateStack cannot be called from current stack status")
        stack.cancel_requested = True

    def continue_update_rollback(self, stack: Stack, skip: set[str], token: str | None = None) -> None:
        if stack.status != "UPDATE_ROLLBACK_FAILED" or stack.pending_rollback is None:
            raise CfnError("ValidationError", "ContinueUpdateRollback cannot be called from current stack status")
        plan: RollbackPlan = stack.pending_rollback
        not_failed = sorted(skip - plan.failed)
        if not_failed:
            # AWS accepts only resources in UPDATE_FAILED because their rollback failed.
            raise CfnError(
                "ValidationError",
                f"Resources [{', '.join(not_failed)}] cannot be skipped: only resources whose rollback failed "
                "(UPDATE_FAILED during the rollback) can be named in ResourcesToSkip",
            )

        def start() -> None:
            stack.operation_token = token
            stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS", "User Initiated")
            self._roll_back(stack, skip)

        self._run(stack, start)

    def arm_failure(self, stack_name: str, logical_id: str, marker: FailureMarker) -> None:
        self.markers[(stack_name, logical_id)] = marker

    def fix(self, stack_name: str, logical_id: str) -> bool:
        """Removes the cause of a persistent rollback failure; True if there was one."""
        found = self.markers.pop((stack_name, logical_id), None) is not None
        for stack in self.stacks.values():
            plan = stack.pending_rollback
            if stack.name == stack_name and plan is not None and plan.traps.pop(logical_id, None) is not None:
                found = True
        return found

    # ---- running operations ---------------------------------------------

    def _run(self, stack: Stack, operation: Callable[[], Any]) -> None:
        gate = self._gate
        held = any(name == stack.name for name, _ in self._resource_holds)
        if self.resource_delay_ms <= 0 and gate is None and not held:
            operation()
            return

        def work() -> None:
            if gate is not None:
                gate.wait()
            self._worker.active = True
            with self.lock:
                operation()

        threading.Thread(target=work, name="local-aws-stack-operation", daemon=True).start()

    def _pause(self, stack: Stack, logical_id: str) -> None:
        """Before a resource: wait (async mode, a resource hold) and honour CancelUpdateStack."""
        if getattr(self._worker, "active", False) and self.resource_delay_ms > 0:
            self.lock.release()
            try:
                time.sleep(self.resource_delay_ms / 1000)
            finally:
                self.lock.acquire()
        hold = self._resource_holds.get((stack.name, logical_id))
        if hold is not None and getattr(self._worker, "active", False):
            hold.reached.set()
            self.lock.release()
            try:
                hold.gate.wait()
            finally:
                self.lock.acquire()
        if stack.status == "UPDATE_IN_PROGRESS" and stack.cancel_requested:
            raise Failure(None, "Resource update cancelled")

    def _resolver(self, stack: Stack) -> Resolver:
        def ref(logical_id: str) -> Any:
            resource = stack.live_resources.get(logical_id)
            if resource is None:
                raise TemplateError(f"Resource {logical_id} does not exist")
            return resource.physical_id

        def get_att(logical_id: str, attribute: str) -> Any:
            check_attribute(stack.template, logical_id, attribute)
            resource = stack.live_resources.get(logical_id)
            if resource is None:
                raise TemplateError(f"Resource {logical_id} does not exist")
            return resource.attributes[attribute]

        return Resolver(stack.template, stack.parameters, pseudo_parameters(stack), ref, get_att)

    def _context(self, stack: Stack, logical_id: str) -> Context:
        return Context(stack.account_id, stack.region, stack.name, logical_id)

    def _take_marker(self, stack: Stack, logical_id: str) -> FailureMarker | None:
        return self.markers.pop((stack.name, logical_id), None)

    def _active_order(self, stack: Stack, resolver: Resolver) -> list[str]:
        resources = stack.template["Resources"]
        return [lid for lid in dependency_order(resources) if resolver.is_active(lid)]

    # ---- create ----------------------------------------------------------

    def _create(self, stack: Stack, change_set: ChangeSet) -> bool:
        stack.template_body, stack.template = change_set.template_body, change_set.template
        stack.parameters, stack.capabilities = change_set.parameters, change_set.capabilities
        stack.tags = change_set.tags or {}
        resolver = self._resolver(stack)
        try:
            for logical_id in self._active_order(stack, resolver):
                self._pause(stack, logical_id)
                self._create_resource(stack, logical_id, resolver)
            stack.outputs = self._outputs(stack, resolver)
        except Failure as failure:
            if stack.disable_rollback:
                stack.set_status("CREATE_FAILED", _failed_reason("create", failure))
                return False
            self._roll_back_create(stack, failure)
            return False
        stack.set_status("CREATE_COMPLETE")
        return True

    def _create_resource(self, stack: Stack, logical_id: str, resolver: Resolver) -> None:
        body = stack.template["Resources"][logical_id]
        type_name = body["Type"]
        stack.add_event(logical_id, type_name, "", "CREATE_IN_PROGRESS")
        try:
            marker = self._take_marker(stack, logical_id)
            if marker is not None:
                raise ResourceFailure(marker.reason)
            props = resolver.resolve(body.get("Properties") or {})
            created = handler_for(type_name).create(self._context(stack, logical_id), props)
        except Exception as err:  # any backend error fails the resource
            stack.add_event(logical_id, type_name, "", "CREATE_FAILED", _reason(err))
            raise Failure(logical_id, _reason(err)) from err
        stack.resources[logical_id] = StackResource(
            logical_id=logical_id,
            resource_type=type_name,
            physical_id=created.physical_id,
            properties=props,
            attributes=created.attributes,
            deletion_policy=body.get("DeletionPolicy", "Delete"),
            update_replace_policy=body.get("UpdateReplacePolicy", "Delete"),
            status="CREATE_COMPLETE",
        )
        stack.add_event(logical_id, type_name, created.physical_id, "CREATE_IN_PROGRESS", "Resource creation Initiated")
        stack.add_event(logical_id, type_name, created.physical_id, "CREATE_COMPLETE")

    def _outputs(self, stack: Stack, resolver: Resolver) -> list[dict[str, Any]]:
        try:
            return resolve_outputs(resolver, stack.template)
        except (TemplateError, KeyError) as err:
            raise Failure(None, f"Output resolution failed: {_reason(err)}") from err

    def _roll_back_create(self, stack: Stack, failure: Failure) -> None:
        reason = f"The following resource(s) failed to create: [{failure.logical_id}]. Rollback requested by user."
        if failure.logical_id is None:
            reason = failure.reason
        stack.set_status("ROLLBACK_IN_PROGRESS", reason)
        try:
            # `RetainExceptOnCreate` resources go with a failed create; `Retain` ones stay.
            self._delete_all(stack, retain=set(), failed_create=True)
        except Failure as err:
            stack.set_status("ROLLBACK_FAILED", f"The following resource(s) failed to delete: [{err.logical_id}]. ")
            return
        if failure.logical_id is not None:
            type_name = stack.template["Resources"][failure.logical_id]["Type"]
            stack.add_event(failure.logical_id, type_name, "", "DELETE_COMPLETE")
        stack.outputs = []
        stack.set_status("ROLLBACK_COMPLETE")

    # ---- update ----------------------------------------------------------

    def _update(self, stack: Stack, change_set: ChangeSet, snapshot: Snapshot) -> bool:
        if stack.policy_body is not None:
            denied = stack_policy.denials(stack_policy.parse(stack.policy_body), change_set.changes)
            if denied:
                # Checked before anything changes: the update rolls back at once.
                stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS", stack_policy.reason(denied))
                stack.set_status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
                stack.last_updated_time = CLOCK.now()
                stack.set_status("UPDATE_ROLLBACK_COMPLETE")
                return False
        old_template = stack.template
        stack.template_body, stack.template = change_set.template_body, change_set.template
        stack.parameters, stack.capabilities = change_set.parameters, change_set.capabilities
        if change_set.tags:
            stack.tags = change_set.tags
        resolver = self._resolver(stack)
        journal: list[JournalEntry] = []
        active = self._active_order(stack, resolver)
        try:
            for logical_id in active:
                self._pause(stack, logical_id)
                if logical_id in stack.live_resources:
                    self._update_resource(stack, logical_id, resolver, journal)
                else:
                    self._create_resource(stack, logical_id, resolver)
                    journal.append(JournalEntry("create", logical_id, None))
            stack.outputs = self._outputs(stack, resolver)
        except Failure as failure:
            if stack.disable_rollback:
                stack.rollback_traps = {}
                stack.set_status("UPDATE_FAILED", _failed_reason("update", failure))
                return False
            self._start_update_rollback(stack, snapshot, journal, failure)
            return False
        stack.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        for entry in reversed(journal):
            if entry.kind == "replace" and entry.before is not None:
                self._delete_record(stack, entry.before, entry.before.update_replace_policy)
        removed = [lid for lid in reversed(dependency_order(old_template["Resources"])) if lid in stack.live_resources and lid not in active]
        for logical_id in removed:
            record = stack.resources.pop(logical_id)
            # A resource removed from the template keeps its DeletionPolicy.
            policy = "Retain" if record.deletion_policy in ("Retain", "RetainExceptOnCreate") else "Delete"
            self._delete_record(stack, record, policy)
        stack.last_updated_time = CLOCK.now()
        stack.set_status("UPDATE_COMPLETE")
        return True

    def _update_resource(self, stack: Stack, logical_id: str, resolver: Resolver, journal: list[JournalEntry]) -> None:
        current = stack.resources[logical_id]
        body = stack.template["Resources"][logical_id]
        type_name = body["Type"]
        current.deletion_policy = body.get("DeletionPolicy", "Delete")
        current.update_replace_policy = body.get("UpdateReplacePolicy", "Delete")
        try:
            props = resolver.resolve(body.get("Properties") or {})
        except (TemplateError, KeyError) as err:
            stack.add_event(logical_id, type_name, current.physical_id, "UPDATE_FAILED", _reason(err))
            raise Failure(logical_id, _reason(err)) from err
        if props == current.properties and type_name == current.resource_type:
            return
        handler = handler_for(type_name)
        replace = type_name != current.resource_type or any(
            props.get(k) != current.properties.get(k) for k in handler.create_only
        )
        marker = self._take_marker(stack, logical_id)
        if marker is not None and marker.mode in ("rollback_fails", "rollback_only"):
            stack.rollback_traps[logical_id] = (marker.reason, marker.until_fixed)
        before = copy.deepcopy(current)
        stack.add_event(logical_id, type_name, current.physical_id, "UPDATE_IN_PROGRESS")
        try:
            if marker is not None and marker.mode == "fail":
                raise ResourceFailure(marker.reason)
            if replace:
                self._replace(stack, logical_id, body, props)
                journal.append(JournalEntry("replace", logical_id, before))
            else:
                journal.append(JournalEntry("modify", logical_id, before))
                current.attributes = handler.update(self._context(stack, logical_id), current.physical_id, current.properties, props)
                current.properties = props
            if marker is not None and marker.mode == "rollback_fails":
                raise ResourceFailure(marker.reason)
        except Exception as err:  # any backend error fails the resource
            physical_id = stack.resources[logical_id].physical_id
            stack.add_event(logical_id, type_name, physical_id, "UPDATE_FAILED", _reason(err))
            raise Failure(logical_id, _reason(err)) from err
        updated = stack.resources[logical_id]
        updated.status, updated.timestamp = "UPDATE_COMPLETE", CLOCK.now()
        stack.add_event(logical_id, type_name, updated.physical_id, "UPDATE_COMPLETE")

    def _replace(self, stack: Stack, logical_id: str, body: dict[str, Any], props: dict[str, Any]) -> None:
        type_name = body["Type"]
        stack.add_event(
            logical_id, type_name, stack.resources[logical_id].physical_id, "UPDATE_IN_PROGRESS",
            "Requested update requires the creation of a new physical resource; hence creating one.",
        )
        created = handler_for(type_name).create(self._context(stack, logical_id), props)
        stack.resources[logical_id] = StackResource(
            logical_id=logical_id,
            resource_type=type_name,
            physical_id=created.physical_id,
            properties=props,
            attributes=created.attributes,
            deletion_policy=body.get("DeletionPolicy", "Delete"),
            update_replace_policy=body.get("UpdateReplacePolicy", "Delete"),
            status="UPDATE_IN_PROGRESS",
        )

    # ---- update rollback ---------------------------------------------------

    def _start_update_rollback(self, stack: Stack, snapshot: Snapshot, journal: list[JournalEntry], failure: Failure) -> None:
        if failure.logical_id is None:
            reason = failure.reason
        else:
            reason = f"The following resource(s) failed to update: [{failure.logical_id}]. "
        stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS", reason)
        stack.template_body, stack.template = snapshot.template_body, snapshot.template
        stack.parameters, stack.tags = snapshot.parameters, snapshot.tags
        traps, stack.rollback_traps = stack.rollback_traps, {}
        stack.pending_rollback = RollbackPlan(list(reversed(journal)), snapshot, traps)
        self._roll_back(stack, skip=set())

    def _roll_back(self, stack: Stack, skip: set[str]) -> bool:
        plan: RollbackPlan = stack.pending_rollback
        while plan.entries:
            entry = plan.entries[0]
            self._pause(stack, entry.logical_id)
            if entry.logical_id in skip and entry.before is not None:
                plan.traps.pop(entry.logical_id, None)
                stack.resources[entry.logical_id] = entry.before
                stack.add_event(entry.logical_id, entry.before.resource_type, entry.before.physical_id, "UPDATE_COMPLETE", "Resource skipped during UpdateRollback")
            elif entry.logical_id in plan.traps:
                reason, until_fixed = plan.traps[entry.logical_id]
                if not until_fixed:
                    del plan.traps[entry.logical_id]
                self._rollback_failed(stack, entry.logical_id, reason)
                return False
            else:
                try:
                    self._revert(stack, entry, plan)
                except Exception as err:  # noqa: BLE001 - any backend error fails the rollback
                    self._rollback_failed(stack, entry.logical_id, _reason(err))
                    return False
            plan.entries.pop(0)
        stack.set_status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        for record in plan.cleanup:
            self._delete_record(stack, record)
        stack.outputs = plan.snapshot.outputs
        stack.pending_rollback = None
        stack.last_updated_time = CLOCK.now()
        stack.set_status("UPDATE_ROLLBACK_COMPLETE")
        return True

    def _rollback_failed(self, stack: Stack, logical_id: str, reason: str) -> None:
        resource = stack.resources.get(logical_id)
        type_name = resource.resource_type if resource else ""
        physical_id = resource.physical_id if resource else ""
        if resource is not None:
            resource.status, resource.status_reason = "UPDATE_FAILED", reason
        stack.pending_rollback.failed.add(logical_id)
        stack.add_event(logical_id, type_name, physical_id, "UPDATE_FAILED", reason)
        stack.set_status("UPDATE_ROLLBACK_FAILED", f"The following resource(s) failed to update: [{logical_id}]. ")

    def _revert(self, stack: Stack, entry: JournalEntry, plan: RollbackPlan) -> None:
        """Undo one journal entry in the backends."""
        if entry.kind == "create":
            plan.cleanup.append(stack.resources.pop(entry.logical_id))
            return
        before = entry.before
        assert before is not None
        current = stack.resources[entry.logical_id]
        stack.add_event(entry.logical_id, before.resource_type, before.physical_id, "UPDATE_IN_PROGRESS")
        if entry.kind == "replace":
            plan.cleanup.append(current)
        else:
            handler_for(before.resource_type).update(
                self._context(stack, entry.logical_id), before.physical_id, current.properties, before.properties
            )
        before.status, before.timestamp = "UPDATE_COMPLETE", CLOCK.now()
        stack.resources[entry.logical_id] = before
        stack.add_event(entry.logical_id, before.resource_type, before.physical_id, "UPDATE_COMPLETE")

    # ---- delete ------------------------------------------------------------

    def _delete(self, stack: Stack, retain: set[str]) -> None:
        try:
            self._delete_all(stack, retain)
        except Failure as failure:
            stack.set_status("DELETE_FAILED", f"The following resource(s) failed to delete: [{failure.logical_id}]. ")
            return
        stack.deletion_time = CLOCK.now()
        stack.set_status("DELETE_COMPLETE")

    def _delete_all(self, stack: Stack, retain: set[str], failed_create: bool = False) -> None:
        order = dependency_order(stack.template.get("Resources") or {}) if stack.template else []
        for logical_id in reversed(order):
            resource = stack.live_resources.get(logical_id)
            if resource is None:
                continue
            self._pause(stack, logical_id)
            policy = "Retain" if logical_id in retain else resource.deletion_policy
            if policy == "RetainExceptOnCreate":
                policy = "Delete" if failed_create else "Retain"
            self._delete_record(stack, resource, policy, strict=True)

    def _delete_record(self, stack: Stack, record: StackResource, policy: str = "Delete", strict: bool = False) -> None:
        """Delete one resource (or skip it under a Retain policy), with events."""
        if policy == "Retain":
            record.status = "DELETE_SKIPPED"
            stack.add_event(record.logical_id, record.resource_type, record.physical_id, "DELETE_SKIPPED")
            return
        stack.add_event(record.logical_id, record.resource_type, record.physical_id, "DELETE_IN_PROGRESS")
        try:
            handler_for(record.resource_type).delete(self._context(stack, record.logical_id), record.physical_id, record.properties)
        except Exception as err:  # any backend error fails the resource
            record.status, record.status_reason = "DELETE_FAILED", _reason(err)
            stack.add_event(record.logical_id, record.resource_type, record.physical_id, "DELETE_FAILED", _reason(err))
            if strict:
                raise Failure(record.logical_id, _reason(err)) from err
            return
        record.status, record.timestamp = "DELETE_COMPLETE", CLOCK.now()
        stack.add_event(record.logical_id, record.resource_type, record.physical_id, "DELETE_COMPLETE")


ENGINE = Engine()
"""The single engine the server uses."""
