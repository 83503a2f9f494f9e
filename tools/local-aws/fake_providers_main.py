"""Run the fake AI providers on their own, for `pixelctl local` and frontend work.

Usage: tools/fake-providers [--port N] [--verbose]

Prints `FAKE_PROVIDERS_BASE_URLS=<json>` (provider kind -> base URL, what
`PROVIDER_BASE_URLS` and `pixelctl local --provider-base-url` want) once it accepts
requests, and runs until SIGINT or SIGTERM. Binds 127.0.0.1 only; see
localaws/fake_providers.py for the providers and the `/_fake/*` controls.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from localaws.fake_providers import FakeProviders


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000, help="port to listen on; 0 picks a free one (default 9000)")
    parser.add_argument("--verbose", action="store_true", help="log every request (method and path, never a key)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    fake = FakeProviders()
    try:
        fake.start(args.port)
    except OSError as err:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {err}", file=sys.stderr)
        return 2
    print(f"FAKE_PROVIDERS_BASE_URLS={json.dumps(fake.base_urls(), separators=(',', ':'))}", flush=True)
    stop.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
