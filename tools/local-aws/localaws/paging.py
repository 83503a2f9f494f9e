"""Small pages for the list calls pixelctl pages through, so its paging runs.

AWS answers these in pages of up to 100 or 1000 items, which a test never
fills: with `page_size` > 0 (`--page-size N`, or `page_size` in
`POST /_local-aws/config`) the local AWS answers in pages of at most N, with a
`NextToken` (CloudFormation) or `IsTruncated` and continuation token or markers
(S3), as AWS does for longer lists. 0, the default, keeps one page.

CloudFormation (engine-backed, paged here): ListChangeSets, DescribeChangeSet's
Changes, DescribeStackEvents, ListStacks, DescribeStacks without a StackName.
S3 (moto's own paging): ListObjectsV2 and ListObjectVersions, whose `max-keys`
is lowered to N before moto sees the request.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

T = TypeVar("T")
_TOKEN_PREFIX = "local-aws-page:"


class InvalidToken(ValueError):
    """A NextToken this server did not hand out (or whose item is gone)."""


class Paging:
    """The page size in force (0: no paging)."""

    def __init__(self) -> None:
        self.page_size = 0


PAGING = Paging()


def page(items: Sequence[T], key: Callable[[T], str], token: str | None) -> tuple[list[T], str | None]:
    """The page of `items` that `token` starts (the first without one) and the next page's token.

    A token names the first item of its page, not an offset, so items added in front
    meanwhile (a stack's newer events) neither repeat nor shift what the next page holds.
    """
    start = 0
    if token:
        wanted = _decode(token)
        keys = [key(item) for item in items]
        if wanted not in keys:
            raise InvalidToken(f"Invalid NextToken: {token}")
        start = keys.index(wanted)
    size = PAGING.page_size
    if size <= 0:
        return list(items[start:]), None
    chunk = list(items[start:start + size])
    rest = items[start + size:start + size + 1]
    return chunk, (_encode(key(rest[0])) if rest else None)


def _encode(item_key: str) -> str:
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(item_key.encode()).decode()


def _decode(token: str) -> str:
    if not token.startswith(_TOKEN_PREFIX):
        raise InvalidToken(f"Invalid NextToken: {token}")
    try:
        return base64.urlsafe_b64decode(token[len(_TOKEN_PREFIX):].encode()).decode()
    except (binascii.Error, UnicodeDecodeError) as err:
        raise InvalidToken(f"Invalid NextToken: {token}") from err


def is_s3_listing(method: str, query: str) -> bool:
    """ListObjectsV2 (`?list-type=2`) or ListObjectVersions (`?versions`)."""
    if method != "GET":
        return False
    params = dict(parse_qsl(query, keep_blank_values=True))
    return params.get("list-type") == "2" or "versions" in params


def limit_s3_listing(environ: dict[str, Any]) -> None:
    """Lower an S3 listing's `max-keys` to the page size (in place), when paging is on."""
    size = PAGING.page_size
    query = environ.get("QUERY_STRING", "")
    if size <= 0 or not is_s3_listing(environ.get("REQUEST_METHOD", ""), query):
        return
    params = parse_qsl(query, keep_blank_values=True)
    asked = next((value for name, value in params if name == "max-keys"), "")
    wanted = min(int(asked), size) if asked.isdigit() else size
    kept = [(name, value) for name, value in params if name != "max-keys"]
    environ["QUERY_STRING"] = urlencode([*kept, ("max-keys", str(wanted))])
