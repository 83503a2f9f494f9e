"""Where the local AWS serves what AWS serves on its own hostnames.

AWS names an HTTP API `https://{apiId}.execute-api.{region}.amazonaws.com` and a
distribution `{label}.cloudfront.net`. Here both are served by the local AWS's
own port, reached by host (`{apiId}.execute-api.localhost:{port}`,
`{label}.cloudfront.localhost:{port}`; `*.localhost` is loopback in browsers and
curl) or by path (`/_aws/execute-api/{apiId}/...`, `/_aws/cloudfront/{label}/...`)
for clients that can't resolve `*.localhost`. A distribution's `{label}` is its
id or the first label of its `DomainName`, either case.

`rewrite` turns the AWS forms inside a value (a function's environment variable)
into the local ones, so what the deployed function hands out (image URLs) opens
in a browser on this machine. Nothing here ever contacts an AWS hostname.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXECUTE_API_PATH = "/_aws/execute-api/"
CLOUDFRONT_PATH = "/_aws/cloudfront/"

_API_URL = re.compile(r"https://([A-Za-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com")
_CLOUDFRONT = re.compile(r"(?:https?://)?([A-Za-z0-9]+)\.cloudfront\.net\b")


class LocalHosts:
    """The port the local AWS listens on, known once the server has started."""

    def __init__(self) -> None:
        self.port = 0

    def api_url(self, api_id: str) -> str:
        return f"http://{api_id.lower()}.execute-api.localhost:{self.port}"

    def distribution_url(self, label: str) -> str:
        return f"http://{label.lower()}.cloudfront.localhost:{self.port}"

    def rewrite(self, value: str) -> str:
        """`value` with every execute-api URL and CloudFront domain in its local form."""
        value = _API_URL.sub(lambda m: self.api_url(m.group(1)), value)
        return _CLOUDFRONT.sub(lambda m: self.distribution_url(m.group(1)), value)


HOSTS = LocalHosts()


@dataclass(frozen=True)
class Target:
    """A data-plane request: which service, which API or distribution, and the path it asks for."""

    service: str  # "execute-api" or "cloudfront"
    name: str  # the API id, or the distribution's id or domain label (lower case)
    path: str  # the path as the API or distribution sees it, starting with "/"


def target(host: str, path: str) -> Target | None:
    """The data-plane target of a request by its `Host` header and path, or None for the AWS APIs."""
    hostname = host.split(":", 1)[0].lower()
    for service in ("execute-api", "cloudfront"):
        suffix = f".{service}.localhost"
        if hostname.endswith(suffix) and hostname[: -len(suffix)]:
            return Target(service, hostname[: -len(suffix)], path or "/")
    for service, prefix in (("execute-api", EXECUTE_API_PATH), ("cloudfront", CLOUDFRONT_PATH)):
        if path.startswith(prefix):
            name, _, rest = path[len(prefix):].partition("/")
            if name:
                return Target(service, name.lower(), "/" + rest)
    return None
