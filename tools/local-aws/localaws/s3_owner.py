"""S3's expected-bucket-owner check, which moto 5.2.5 ignores.

Every S3 request may carry `x-amz-expected-bucket-owner: <account id>`; S3
answers 403 `AccessDenied` when the bucket belongs to another account, so a
caller cannot be tricked into reading or writing a bucket someone else created
under a predictable name. moto keeps the owner of every bucket name
(`s3_backends.bucket_accounts`) but never compares it with the header; this
interceptor does, before moto sees the request.
"""

from __future__ import annotations

from moto.s3.models import s3_backends
from werkzeug.wrappers import Request, Response

HEADER = "x-amz-expected-bucket-owner"


def _signing_service(request: Request) -> str | None:
    for part in request.headers.get("Authorization", "").replace(",", " ").split():
        if part.startswith("Credential="):
            pieces = part.split("/")
            return pieces[3] if len(pieces) >= 4 else None
    credential = request.args.get("X-Amz-Credential", "")
    pieces = credential.split("/")
    return pieces[3] if len(pieces) >= 4 else None


def bucket_of(host: str, path: str) -> str | None:
    """The bucket a request addresses: virtual-hosted (`bucket.s3...`, `bucket.localhost`) or path-style."""
    name = host.split(":", 1)[0].lower()
    for suffix in (".localhost", ".s3.amazonaws.com"):
        if name.endswith(suffix) and name != suffix.lstrip("."):
            return name[: -len(suffix)]
    if ".s3." in name:
        return name.split(".s3.", 1)[0]
    first = path.lstrip("/").split("/", 1)[0]
    return first or None


def intercept(request: Request) -> Response | None:
    """403 AccessDenied when the expected owner is not the bucket's; None lets moto answer."""
    expected = request.headers.get(HEADER)
    if not expected or _signing_service(request) != "s3":
        return None
    bucket = bucket_of(request.host, request.path)
    owner = s3_backends.bucket_accounts.get(bucket or "")
    if owner is None or owner[1] == expected.strip():
        return None
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
        "<RequestId>local</RequestId><HostId>local</HostId></Error>"
    )
    return Response(b"" if request.method == "HEAD" else body.encode(), status=403, mimetype="application/xml")
