"""Change-set preview: what a new template and parameters would do to a stack.

Compares the resolved properties of the stack's CURRENT resources with the
resolved properties of the new template. Values that depend on resources that
do not exist yet (or will be replaced) resolve to a `{{pending:Id.Attr}}`
placeholder and are reported as `Dynamic` changes.

As CloudFormation does with `IncludePropertyValues`, each changed value is one
detail whose `Target` names the top-level property (`Name`), the changed value's
`Path` (`/Properties/Environment/Variables/MODELS`), its `BeforeValue` and
`AfterValue` (`{{changeSet:KNOWN_AFTER_APPLY}}` when only known once applied) and
`AttributeChangeType` (`Add`, `Remove`, `Modify`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.utilities.utils import get_partition

from .resources import ResourceFailure, handler_for
from .stacks import Stack, StackResource
from .template import (
    PENDING_PREFIX,
    ResolvedParameters,
    Resolver,
    TemplateError,
    dependency_order,
    references,
)

PENDING_PATTERN = re.compile(re.escape(PENDING_PREFIX) + r"([^.}]+)\.([^}]+)\}\}")
_REPLACEMENT_RANK = {"False": 0, "Conditional": 1, "True": 2}
KNOWN_AFTER_APPLY = "{{changeSet:KNOWN_AFTER_APPLY}}"


def _escape(segment: str) -> str:
    """A JSON-pointer path segment (`~` and `/` escaped)."""
    return segment.replace("~", "~0").replace("/", "~1")


def leaf_changes(path: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """The changed values under `path`: (path, before, after), `None` for absent."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            found += leaf_changes(f"{path}/{_escape(str(key))}", old.get(key), new.get(key))
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            found += leaf_changes(f"{path}/{index}", before, after)
        return found
    return [] if old == new else [(path, old, new)]


def _value(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return KNOWN_AFTER_APPLY if PENDING_PATTERN.search(text) else text


def pending(logical_id: str, what: str) -> str:
    """Placeholder for a value only known once `logical_id` is (re)created."""
    return f"{PENDING_PREFIX}{logical_id}.{what}}}}}"


def pseudo_parameters(stack: Stack) -> dict[str, Any]:
    """The AWS:: pseudo parameters for a stack."""
    return {
        "AWS::AccountId": stack.account_id,
        "AWS::Region": stack.region,
        "AWS::Partition": get_partition(stack.region),
        "AWS::StackName": stack.name,
        "AWS::StackId": stack.stack_id,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": stack.notification_arns,
    }


def check_types(template: dict[str, Any]) -> None:
    """Reject resource types the local AWS cannot deploy, before anything runs."""
    unknown = []
    for body in template["Resources"].values():
        try:
            handler_for(body.get("Type", ""))
        except ResourceFailure:
            unknown.append(body.get("Type", ""))
    if unknown:
        raise TemplateError(
            f"Template format error: Unrecognized resource types: [{', '.join(sorted(set(unknown)))}]"
        )


def check_attribute(template: dict[str, Any], logical_id: str, attribute: str) -> None:
    """Reject `Fn::GetAtt` on an attribute the resource type does not have."""
    type_name = template["Resources"][logical_id]["Type"]
    if attribute not in handler_for(type_name).attribute_names:
        raise TemplateError(
            f"Template error: resource {logical_id} does not support attribute type {attribute} in Fn::GetAtt"
        )


def plan_changes(stack: Stack, template: dict[str, Any], parameters: ResolvedParameters) -> list[dict[str, Any]]:
    """The `Changes` list of a change set for `template` + `parameters` on `stack`."""
    check_types(template)
    resources = template["Resources"]
    current = stack.live_resources
    changing: set[str] = set()

    def ref(logical_id: str) -> Any:
        if logical_id in changing or logical_id not in current:
            return pending(logical_id, "Ref")
        return current[logical_id].physical_id

    def get_att(logical_id: str, attribute: str) -> Any:
        check_attribute(template, logical_id, attribute)
        if logical_id in changing or logical_id not in current:
            return pending(logical_id, attribute)
        return current[logical_id].attributes.get(attribute, pending(logical_id, attribute))

    resolver = Resolver(template, parameters, pseudo_parameters(stack), ref, get_att)
    active = [lid for lid in dependency_order(resources) if resolver.is_active(lid)]
    changes = []
    for logical_id in active:
        body = resources[logical_id]
        props = resolver.resolve(body.get("Properties") or {})
        if logical_id not in current:
            changing.add(logical_id)
            changes.append(_change("Add", logical_id, body["Type"]))
            continue
        change = _modify_change(stack, template, parameters, logical_id, current[logical_id], props)
        if change is not None:
            if change["ResourceChange"]["Replacement"] != "False":
                changing.add(logical_id)
            changes.append(change)
    for logical_id, resource in current.items():
        if logical_id not in active:
            change = _change("Remove", logical_id, resource.resource_type, resource.physical_id)
            policy = resource.deletion_policy
            change["ResourceChange"]["PolicyAction"] = "Retain" if policy == "RetainExceptOnCreate" else policy
            changes.append(change)
    resolve_outputs(resolver, template)
    return changes


def resolve_outputs(resolver: Resolver, template: dict[str, Any]) -> list[dict[str, Any]]:
    """The stack Outputs, skipping those whose Condition is false."""
    outputs = []
    for key, body in (template.get("Outputs") or {}).items():
        if "Condition" in body and not resolver.condition(body["Condition"]):
            continue
        output = {"OutputKey": key, "OutputValue": _text(resolver.resolve(body["Value"]))}
        if "Description" in body:
            output["Description"] = body["Description"]
        if "Export" in body:
            output["ExportName"] = _text(resolver.resolve(body["Export"]["Name"]))
        outputs.append(output)
    return outputs


def _text(value: Any) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _change(action: str, logical_id: str, type_name: str, physical_id: str | None = None) -> dict[str, Any]:
    change: dict[str, Any] = {
        "Action": action,
        "LogicalResourceId": logical_id,
        "ResourceType": type_name,
        "Scope": [],
        "Details": [],
    }
    if physical_id:
        change["PhysicalResourceId"] = physical_id
    return {"Type": "Resource", "ResourceChange": change}


def _modify_change(
    stack: Stack,
    template: dict[str, Any],
    parameters: ResolvedParameters,
    logical_id: str,
    current: StackResource,
    props: dict[str, Any],
) -> dict[str, Any] | None:
    type_name = template["Resources"][logical_id]["Type"]
    change = _change("Modify", logical_id, type_name, current.physical_id)
    body = change["ResourceChange"]
    if type_name != current.resource_type:
        body["Replacement"] = "True"
        return change
    create_only = handler_for(type_name).create_only
    replacement = "False"
    for key in sorted(set(current.properties) | set(props)):
        old_value, new_value = current.properties.get(key), props.get(key)
        if old_value == new_value:
            continue
        dynamic = PENDING_PATTERN.search(json.dumps(new_value, default=str))
        attribute = "Tags" if key == "Tags" else "Properties"
        source = _change_source(stack, template, parameters, logical_id, key, dynamic)
        recreation = "Always" if key in create_only else "Never"
        for path, before, after in leaf_changes(f"/{attribute}/{_escape(key)}", old_value, new_value):
            target: dict[str, Any] = {
                "Attribute": attribute, "RequiresRecreation": recreation, "Path": path,
                "AttributeChangeType": "Add" if before is None else "Remove" if after is None else "Modify",
            }
            if attribute == "Properties":
                target["Name"] = key
            if _value(before) is not None:
                target["BeforeValue"] = _value(before)
            if _value(after) is not None:
                target["AfterValue"] = _value(after)
            leaf_dynamic = PENDING_PATTERN.search(json.dumps(after, default=str))
            detail: dict[str, Any] = {"Target": target, "Evaluation": "Dynamic" if leaf_dynamic else "Static"}
            detail.update(source)
            body["Details"].append(detail)
        if attribute not in body["Scope"]:
            body["Scope"].append(attribute)
        if key in create_only:
            candidate = "Conditional" if dynamic else "True"
            if _REPLACEMENT_RANK[candidate] > _REPLACEMENT_RANK[replacement]:
                replacement = candidate
    if not body["Details"]:
        return None
    body["Replacement"] = replacement
    return change


def _change_source(
    stack: Stack,
    template: dict[str, Any],
    parameters: ResolvedParameters,
    logical_id: str,
    key: str,
    dynamic: re.Match[str] | None,
) -> dict[str, str]:
    if dynamic:
        target, attribute = dynamic.groups()
        if attribute == "Ref":
            return {"ChangeSource": "ResourceReference", "CausingEntity": target}
        return {"ChangeSource": "ResourceAttribute", "CausingEntity": f"{target}.{attribute}"}
    old_raw = _raw_property(stack.template, logical_id, key)
    new_raw = _raw_property(template, logical_id, key)
    if old_raw == new_raw:
        for name in sorted(references(new_raw)):
            if name in parameters.values and parameters.values[name] != stack.parameters.values.get(name):
                return {"ChangeSource": "ParameterReference", "CausingEntity": name}
    return {"ChangeSource": "DirectModification"}


def _raw_property(template: dict[str, Any], logical_id: str, key: str) -> Any:
    body = (template.get("Resources") or {}).get(logical_id) or {}
    return (body.get("Properties") or {}).get(key)
