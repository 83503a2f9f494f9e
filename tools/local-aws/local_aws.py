"""Start the local AWS: moto 5.2.5 in server mode with pixelctl's CloudFormation extensions.

Usage: tools/local-aws/run [--port N] [--cloudfront-deploy-seconds S] [--verbose]

Prints `LOCAL_AWS_ENDPOINT=http://127.0.0.1:PORT` once it accepts requests and
runs until SIGINT or SIGTERM. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from localaws import MotoVersionError, check_moto_version

HOST = "127.0.0.1"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4566, help="port to listen on; 0 picks a free one (default 4566)")
    parser.add_argument(
        "--cloudfront-deploy-seconds",
        type=float,
        default=0.0,
        help="how long created or updated distributions report InProgress (default 0)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def configure_moto() -> None:
    """Settings that must be in place before any request: no Docker for Lambda."""
    from moto.core.config import default_user_config

    default_user_config["lambda"]["use_docker"] = False


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("moto").setLevel(logging.ERROR)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        check_moto_version()
    except MotoVersionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    configure_logging(args.verbose)
    configure_moto()

    from localaws import cfn_api, moto_patches
    from localaws.server import LocalAwsServer

    moto_patches.install()
    cfn_api.install()
    moto_patches.CLOUDFRONT_TIMING.deploy_seconds = args.cloudfront_deploy_seconds

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    server = LocalAwsServer(ip_address=HOST, port=args.port, verbose=args.verbose)
    server.start()
    _, port = server.get_host_and_port()
    print(f"LOCAL_AWS_ENDPOINT=http://{HOST}:{port}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
