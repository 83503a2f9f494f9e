"""Stack policies: which of an update's resource changes a stack's policy denies.

CloudFormation checks a stack's policy before an update touches anything: a
change to an existing resource is the action `Update:Modify`, `Update:Replace`
(the change set says it replaces, or may) or `Update:Delete` (removed from the
template); new resources are not subject to it. With a policy set, a change
needs an `Allow` statement that matches it, and any matching `Deny` wins. A
statement matches by `Action` (wildcards such as `Update:*`), by `Resource` or
`NotResource` (`LogicalResourceId/<id>`, wildcards) and by its `Condition` on
`ResourceType` (`StringEquals`, `StringLike`).
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any


class PolicyError(ValueError):
    """A stack policy body that is not a policy."""


def parse(body: str) -> list[dict[str, Any]]:
    """The statements of a policy body, or PolicyError saying what is wrong."""
    try:
        policy = json.loads(body)
    except json.JSONDecodeError as err:
        raise PolicyError(f"Stack policy is not valid JSON: {err}") from err
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if not isinstance(statements, list) or not statements:
        raise PolicyError("Stack policy must have a non-empty Statement list")
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError("Each stack policy statement needs an Effect of Allow or Deny")
        if "Resource" not in statement and "NotResource" not in statement:
            raise PolicyError("Each stack policy statement needs a Resource or NotResource")
    return statements


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _condition_holds(condition: dict[str, Any], resource_type: str) -> bool:
    for operator, tests in condition.items():
        wanted = _listed((tests or {}).get("ResourceType"))
        if operator == "StringEquals" and resource_type not in wanted:
            return False
        if operator == "StringLike" and not any(fnmatch.fnmatchcase(resource_type, w) for w in wanted):
            return False
    return True


def matches(statement: dict[str, Any], action: str, logical_id: str, resource_type: str) -> bool:
    """Whether `statement` covers `action` on the resource. Pure."""
    if not any(fnmatch.fnmatchcase(action, pattern) for pattern in _listed(statement.get("Action"))):
        return False
    resource = f"LogicalResourceId/{logical_id}"
    if "Resource" in statement:
        if not any(fnmatch.fnmatchcase(resource, p) for p in _listed(statement["Resource"])):
            return False
    elif any(fnmatch.fnmatchcase(resource, p) for p in _listed(statement["NotResource"])):
        return False
    return _condition_holds(statement.get("Condition") or {}, resource_type)


def action_of(change: dict[str, Any]) -> str | None:
    """The stack policy action a change set's resource change is, or None (an addition)."""
    resource_change = change["ResourceChange"]
    if resource_change["Action"] == "Remove":
        return "Update:Delete"
    if resource_change["Action"] == "Modify":
        return "Update:Modify" if resource_change.get("Replacement") == "False" else "Update:Replace"
    return None


def denials(statements: list[dict[str, Any]], changes: list[dict[str, Any]]) -> list[tuple[str, str, int | None]]:
    """(action, logical id, denying statement number or None for no Allow) per denied change."""
    denied: list[tuple[str, str, int | None]] = []
    for change in changes:
        action = action_of(change)
        if action is None:
            continue
        resource_change = change["ResourceChange"]
        logical_id, resource_type = resource_change["LogicalResourceId"], resource_change["ResourceType"]
        hits = [(n, s) for n, s in enumerate(statements, 1) if matches(s, action, logical_id, resource_type)]
        deny = next((n for n, s in hits if s["Effect"] == "Deny"), None)
        if deny is not None:
            denied.append((action, logical_id, deny))
        elif not any(s["Effect"] == "Allow" for _, s in hits):
            denied.append((action, logical_id, None))
    return denied


def reason(denied: list[tuple[str, str, int | None]]) -> str:
    """The stack status reason CloudFormation gives for the first denial."""
    action, logical_id, statement = denied[0]
    if statement is None:
        return f"Action denied by stack policy: No statement allows [{action}] for resource [LogicalResourceId/{logical_id}]"
    return (
        f"Action denied by stack policy: Statement [#{statement}] does not allow [{action}] "
        f"for resource [LogicalResourceId/{logical_id}]"
    )
