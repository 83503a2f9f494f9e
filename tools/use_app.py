"""Use a deployed Pixel Prompt as its web page would: generate, wait, load every image.

Usage: use_app.py API_URL [--page PAGE_URL] [--prompt TEXT] [--timeout SECONDS]

API_URL is the deployed HTTP API (for the local AWS, the `served_locally`
ApiEndpoint from `pixelctl outputs ENV --format json`). Exits non-zero unless
every model's image completes and loads from the URL the API hands out. With
--page (the `served_locally` SiteUrl), it first loads the published web app as
a browser would: the page, its script (which must name API_URL), a client-side
route, and the API's CORS answer for the page's origin. Talks only to
127.0.0.1: `*.localhost` hosts are connected to loopback here rather than
through the system resolver, which may not know them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
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


def request(method: str, url: str, body: dict | None = None, extra: dict[str, str] | None = None) -> Answer:
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
    headers.update(extra or {})
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    connection.close()
    return answer


def check_page(page: str, api: str) -> int:
    """Loads the published page as a browser does; returns the number of problems."""
    problems = 0

    def check(ok: bool, what: str) -> None:
        nonlocal problems
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        problems += 0 if ok else 1

    root = request("GET", page)
    check(root.status == 200 and root.headers.get("content-type", "").startswith("text/html"),
          f"GET {page} -> {root.status} {root.headers.get('content-type', '?')}, Cache-Control: {root.headers.get('cache-control', '-')}")
    scripts = re.findall(r'<script[^>]+src="(/assets/[^"]+\.js)"', root.body.decode(errors="replace"))
    check(len(scripts) == 1, f"the page loads one script: {scripts}")
    for script in scripts:
        code = request("GET", page.rstrip("/") + script)
        check(code.status == 200 and api.encode() in code.body,
              f"GET {script} -> {code.status}, Cache-Control: {code.headers.get('cache-control', '-')}, calls {api}")
    route = request("GET", page.rstrip("/") + "/gallery")
    check(route.status == 200 and route.body == root.body, f"GET /gallery (a client-side route) -> {route.status}, the app")
    origin = page.rstrip("/")
    preflight = request("OPTIONS", f"{api}/generate", extra={"Origin": origin, "Access-Control-Request-Method": "POST"})
    check(preflight.headers.get("access-control-allow-origin") == origin, f"the API allows the page's origin {origin}")
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("api", help="the deployed API's base URL")
    parser.add_argument("--page", help="the published web app's URL (checked first)")
    parser.add_argument("--prompt", default="a lighthouse on a cliff at dawn, oil painting")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the job (default 120)")
    args = parser.parse_args(argv)
    api = args.api.rstrip("/")
    if args.page:
        print(f"the web app at {args.page}")
        if check_page(args.page, api):
            print("error: the published web app does not load as a browser would load it", file=sys.stderr)
            return 1

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
