"""Use a deployed Pixel Prompt as its web page would: generate, wait, load every image.

Usage: use_app.py API_URL [--prompt TEXT] [--timeout SECONDS]

API_URL is the deployed HTTP API (for the local AWS, the `served_locally`
ApiEndpoint from `pixelctl outputs ENV --format json`). Exits non-zero unless
every model's image completes and loads from the URL the API hands out. Talks
only to 127.0.0.1: `*.localhost` hosts are connected to loopback here rather
than through the system resolver, which may not know them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def request(method: str, url: str, body: dict | None = None) -> Answer:
    """One HTTP request to a loopback URL (`127.0.0.1`, `localhost` or `*.localhost`)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or not (host in ("127.0.0.1", "localhost") or host.endswith(".localhost")):
        raise SystemExit(f"error: refusing a URL that isn't on this machine: {url}")
    connection = http.client.HTTPConnection("127.0.0.1", parts.port or 80, timeout=30)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Host": parts.netloc, "Content-Type": "application/json"} if data else {"Host": parts.netloc}
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    connection.close()
    return answer


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("api", help="the deployed API's base URL")
    parser.add_argument("--prompt", default="a lighthouse on a cliff at dawn, oil painting")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the job (default 120)")
    args = parser.parse_args(argv)
    api = args.api.rstrip("/")

    created = request("POST", f"{api}/generate", {"prompt": args.prompt})
    if created.status != 200:
        print(f"error: POST /generate answered {created.status}: {created.body.decode(errors='replace')}", file=sys.stderr)
        return 1
    job_id = created.json()["jobId"]
    total = created.json()["totalModels"]
    print(f"POST {api}/generate -> job {job_id}, {total} models")

    deadline = time.monotonic() + args.timeout
    while True:
        job = request("GET", f"{api}/status/{job_id}").json()
        if job["status"] in ("completed", "partial", "failed"):
            break
        if time.monotonic() > deadline:
            print(f"error: job {job_id} still {job['status']} after {args.timeout:.0f} s", file=sys.stderr)
            return 1
        time.sleep(0.5)

    failures = 0
    for result in job["results"]:
        url = result.get("imageUrl")
        if result["status"] != "completed" or not url:
            print(f"  {result['model']}: {result['status']} {result.get('error', '')}")
            failures += 1
            continue
        image = request("GET", url)
        loads = image.status == 200 and image.headers.get("content-type", "").startswith("image/")
        print(
            f"  {result['model']}: {result['duration']:.2f} s, "
            f"{len(image.body)} bytes {image.headers.get('content-type', '?')} via CloudFront "
            f"({'loads' if loads else f'HTTP {image.status}'})\n    {url}"
        )
        failures += 0 if loads else 1
    print(f"job {job_id}: {job['status']}, {job['completedModels']}/{job['totalModels']} models")
    print(f"gallery: {api}/gallery/{job_id}")
    return 1 if failures or job["status"] != "completed" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
