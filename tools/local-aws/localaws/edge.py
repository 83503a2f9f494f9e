"""CloudFront distributions served as CloudFront serves them, from what moto stores.

moto keeps the distributions CloudFormation deploys (`resources/cdn.py`) but
serves none. Here a request to `{id or domain label}.cloudfront.localhost:{port}`
(or `/_aws/cloudfront/{label}/...`) goes through the distribution's cache
behaviours to its S3 origin and reads the object from moto's S3 backend only
as far as the bucket policy lets CloudFront read it (Origin Access Control:
the service principal `cloudfront.amazonaws.com` with the distribution's ARN as
`AWS:SourceArn`), so a policy that would lock CloudFront out on AWS locks it
out here. `DefaultRootObject`, `CustomErrorResponses` and `If-None-Match` are
applied. What is modeled and what is not: README, "CloudFront serves".
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from moto.cloudfront.models import Distribution, Origin, cloudfront_backends
from moto.s3.models import FakeKey, s3_backends
from werkzeug.wrappers import Request, Response

from .hosts import target

CLOUDFRONT_PRINCIPAL = "cloudfront.amazonaws.com"
_S3_ORIGIN = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$")
# Object headers S3 returns and CloudFront relays.
_OBJECT_HEADERS = ("content-type", "cache-control", "content-encoding", "content-disposition", "content-language", "expires")
_EDGE_ID = secrets.token_hex(16)


# --- Bucket policy evaluation (pure) ----------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcards: `*` any run of characters, `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None


def _principal_matches(principal: Any, service: str | None) -> bool:
    """Does a statement's Principal name the caller (a service principal, or anonymous when None)?"""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if "*" in _as_list(principal.get("AWS", [])):
        return True
    return service is not None and service in _as_list(principal.get("Service", []))


_POSITIVE_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda wanted, actual: wanted == actual,
    "StringLike": lambda wanted, actual: _glob(wanted, actual),
    "ArnEquals": lambda wanted, actual: _glob(wanted, actual),
    "ArnLike": lambda wanted, actual: _glob(wanted, actual),
    "Bool": lambda wanted, actual: wanted.lower() == actual.lower(),
}
_NEGATED_OPERATORS = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}


def _test_holds(operator: str, expected: Any, actual: str | None) -> bool:
    """One condition test: any expected value matching is enough (IAM's OR across values)."""
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if actual is None:
        # A missing key matches only negated operators and `...IfExists`.
        return if_exists or operator in _NEGATED_OPERATORS
    wanted = [str(value).lower() if isinstance(value, bool) else str(value) for value in _as_list(expected)]
    if operator in _NEGATED_OPERATORS:
        negated = _POSITIVE_OPERATORS[_NEGATED_OPERATORS[operator]]
        return not any(negated(value, actual) for value in wanted)
    compare = _POSITIVE_OPERATORS.get(operator)
    # An operator this evaluator doesn't know never holds.
    return compare is not None and any(compare(value, actual) for value in wanted)


def _conditions_hold(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """Every operator and every key of a Condition block must hold (IAM's AND)."""
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, tests in condition.items():
        if not isinstance(tests, dict):
            return False
        for key, expected in tests.items():
            if not _test_holds(operator, expected, lowered.get(key.lower())):
                return False
    return True


def _statement_applies(statement: Mapping[str, Any], service: str | None, action: str, resource: str, context: Mapping[str, str]) -> bool:
    if "Principal" in statement and not _principal_matches(statement["Principal"], service):
        return False
    if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"], service):
        return False
    if "Action" in statement and not any(_glob(a, action, ignore_case=True) for a in _as_list(statement["Action"])):
        return False
    if "NotAction" in statement and any(_glob(a, action, ignore_case=True) for a in _as_list(statement["NotAction"])):
        return False
    if "Resource" in statement and not any(_glob(r, resource) for r in _as_list(statement["Resource"])):
        return False
    if "NotResource" in statement and any(_glob(r, resource) for r in _as_list(statement["NotResource"])):
        return False
    return _conditions_hold(statement.get("Condition") or {}, context)


def policy_allows(policy: Mapping[str, Any] | None, service: str | None, action: str, resource: str, context: Mapping[str, str]) -> bool:
    """Does a bucket policy let `service` (None: an anonymous caller) do `action` on `resource`?

    An explicit Deny wins; without an Allow the request is denied. Condition
    operators: StringEquals, StringLike, ArnEquals, ArnLike, Bool, their `Not`
    forms and `...IfExists`; condition keys are case-insensitive.
    """
    if not policy:
        return False
    allowed = False
    for statement in _as_list(policy.get("Statement", [])):
        if not isinstance(statement, dict) or not _statement_applies(statement, service, action, resource, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


# --- Distribution configuration (pure) --------------------------------------


def path_pattern_matches(pattern: str, path: str) -> bool:
    """CloudFront's PathPattern: case-sensitive, `*` any characters (also `/`), `?` one; the leading `/` optional."""
    return _glob("/" + pattern.lstrip("/"), path)


def _items(container: Any) -> list[Any]:
    if isinstance(container, dict):
        items = container.get("Items") or []
        return items if isinstance(items, list) else [items]
    return []


def _config(distribution: Distribution) -> Any:
    """The distribution's config; moto sets its CamelCase attributes from the request without declaring them."""
    return distribution.distribution_config


def cache_behavior_for(distribution: Distribution, path: str) -> Any:
    """The first cache behaviour whose PathPattern matches, else the default one."""
    config = _config(distribution)
    for behavior in _items(config.CacheBehaviors):
        if path_pattern_matches(behavior.path_pattern, path):
            return behavior
    return config.DefaultCacheBehavior


def _enabled(distribution: Distribution) -> bool:
    return str(_config(distribution).Enabled).lower() == "true"


def _find_distribution(label: str) -> tuple[str, Distribution] | None:
    """(account, distribution) by id or domain label, either case, in any account."""
    for account_id, partitions in list(dict.items(cloudfront_backends)):
        for backend in list(dict.values(partitions)):
            for distribution in list(backend.distributions.values()):
                domain_label = distribution.domain_name.split(".", 1)[0]
                if label in (distribution.distribution_id.lower(), domain_label.lower()):
                    return account_id, distribution
    return None


# --- Origin answers ---------------------------------------------------------


@dataclass
class Answer:
    """An origin's (or CloudFront's own) answer before the edge headers are added."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    from_origin: bool = True


def _s3_error(status: int, code: str, message: str, extra: str = "") -> Answer:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>{extra}"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId><HostId>{secrets.token_urlsafe(48)}</HostId></Error>"
    )
    return Answer(status, body.encode(), {"Content-Type": "application/xml"})


def _cloudfront_error(status: int, reason: str) -> Answer:
    """CloudFront's own error page ("The request could not be satisfied")."""
    body = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">\n'
        f"<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>\n<H1>{status} ERROR</H1>\n"
        f"<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n{escape(reason)}\n</BODY></HTML>"
    )
    return Answer(status, body.encode(), {"Content-Type": "text/html"}, from_origin=False)


def _object_answer(key: FakeKey) -> Answer:
    headers = {"ETag": key.etag, "Last-Modified": key.last_modified_RFC1123}
    for name, value in key.metadata.items():
        lowered = name.lower()
        if lowered in _OBJECT_HEADERS or lowered.startswith("x-amz-meta-"):
            headers[name.title() if lowered in _OBJECT_HEADERS else lowered] = str(value)
    return Answer(200, key.value, headers)


def fetch_from_s3(account_id: str, distribution: Distribution, origin: Origin, path: str) -> Answer:
    """GET an object as CloudFront would: signed with OAC when the origin has one, anonymous otherwise."""
    found = _S3_ORIGIN.match(origin.domain_name)
    if found is None:
        return _cloudfront_error(502, "CloudFront wasn't able to connect to the origin (only S3 origins are served locally).")
    bucket_name = found.group("bucket")
    key_name = (origin.origin_path.strip("/") + "/" + path.lstrip("/")).lstrip("/")
    owner = s3_backends.bucket_accounts.get(bucket_name)
    if owner is None:
        return _s3_error(404, "NoSuchBucket", "The specified bucket does not exist", f"<BucketName>{escape(bucket_name)}</BucketName>")
    partition, bucket_account = owner
    backend = s3_backends[bucket_account][partition]
    bucket = backend.get_bucket(bucket_name)
    policy = json.loads(bucket.policy) if bucket.policy else None
    service = CLOUDFRONT_PRINCIPAL if getattr(origin, "origin_access_control_id", "") else None
    context = {"aws:SourceArn": distribution.arn, "aws:SourceAccount": account_id, "aws:SecureTransport": "true"}
    if not policy_allows(policy, service, "s3:GetObject", f"arn:aws:s3:::{bucket_name}/{key_name}", context):
        return _s3_error(403, "AccessDenied", "Access Denied")
    key = backend.get_object(bucket_name, key_name)
    if key is None:
        if policy_allows(policy, service, "s3:ListBucket", f"arn:aws:s3:::{bucket_name}", context):
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.", f"<Key>{escape(key_name)}</Key>")
        return _s3_error(403, "AccessDenied", "Access Denied")
    return _object_answer(key)


# --- Serving ----------------------------------------------------------------


def _through_behavior(account_id: str, distribution: Distribution, method: str, path: str) -> Answer:
    behavior = cache_behavior_for(distribution, path)
    allowed = [m.upper() for m in behavior.allowed_methods.items]
    if method not in allowed or method not in ("GET", "HEAD"):
        return _cloudfront_error(
            403, "This distribution is not configured to allow the HTTP request method that was used for this request."
        )
    origins = {origin.id: origin for origin in _items(_config(distribution).Origins)}
    origin = origins.get(behavior.target_origin_id)
    if origin is None:
        return _cloudfront_error(502, "CloudFront couldn't find the origin of this cache behavior.")
    return fetch_from_s3(account_id, distribution, origin, path)


def _custom_error(account_id: str, distribution: Distribution, answer: Answer) -> Answer:
    """The distribution's CustomErrorResponses for an origin error, when one is configured and its page loads."""
    for custom in _items(_config(distribution).CustomErrorResponses):
        if str(custom.get("ErrorCode")) != str(answer.status) or not custom.get("ResponsePagePath"):
            continue
        page = _through_behavior(account_id, distribution, "GET", custom["ResponsePagePath"])
        if page.status != 200:
            return answer
        code = str(custom.get("ResponseCode") or answer.status)
        return Answer(int(code), page.body, page.headers)
    return answer


def _not_modified(request: Request, answer: Answer) -> bool:
    wanted = request.headers.get("If-None-Match")
    etag = answer.headers.get("ETag")
    if answer.status != 200 or not wanted or not etag:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in wanted.split(",")]
    return "*" in tags or etag in tags


def serve(request: Request, label: str, path: str) -> Response:
    """A distribution's answer to one viewer request."""
    found = _find_distribution(label)
    if found is None:
        answer = _cloudfront_error(404, "No distribution answers to this host name.")
    else:
        account_id, distribution = found
        answer = _answer(request, account_id, distribution, unquote(path))
    if _not_modified(request, answer):
        keep = {k: v for k, v in answer.headers.items() if k in ("ETag", "Last-Modified", "Cache-Control", "Expires")}
        answer = Answer(304, b"", keep)
    response = Response(answer.body, status=answer.status, headers=answer.headers)
    if "Content-Type" not in answer.headers:
        response.headers.pop("Content-Type", None)
    response.headers["X-Cache"] = "Miss from cloudfront" if answer.status < 400 else "Error from cloudfront"
    response.headers["Via"] = f"1.1 {_EDGE_ID}.cloudfront.net (CloudFront)"
    response.headers["X-Amz-Cf-Pop"] = "LOCAL1-C1"
    response.headers["X-Amz-Cf-Id"] = secrets.token_urlsafe(42)
    return response


def _answer(request: Request, account_id: str, distribution: Distribution, path: str) -> Answer:
    if not _enabled(distribution):
        return _cloudfront_error(403, "This distribution is not enabled.")
    root = _config(distribution).DefaultRootObject
    if path == "/" and root:
        path = "/" + root.lstrip("/")
    answer = _through_behavior(account_id, distribution, request.method, path)
    if answer.status >= 400 and answer.from_origin:
        return _custom_error(account_id, distribution, answer)
    return answer


def intercept(request: Request) -> Response | None:
    """Answers requests addressed to a distribution; None for everything else."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    found = target(request.host, raw.split("?", 1)[0] or "/")
    if found is None or found.service != "cloudfront":
        return None
    return serve(request, found.name, found.path)
