"""Start the local AWS: moto 5.2.5 in server mode with pixelctl's CloudFormation extensions.

Usage: tools/local-aws/run [--port N] [--cloudfront-deploy-seconds S] [--fake-providers] [--verbose]

Prints `LOCAL_AWS_ENDPOINT=http://127.0.0.1:PORT` once it accepts requests and
runs until SIGINT or SIGTERM. Binds 127.0.0.1 only. With `--fake-providers` a
second line `FAKE_PROVIDERS=<json base urls>` follows.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING

from localaws import MotoVersionError, check_moto_version

if TYPE_CHECKING:
    from localaws.fake_providers import FakeProviders

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
    parser.add_argument(
        "--fake-providers",
        action="store_true",
        help="serve fake AI providers on a free port and give every function PROVIDER_BASE_URLS pointing at them",
    )
    parser.add_argument(
        "--function-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="add KEY=VALUE to every Lambda function's environment, overriding (repeatable)",
    )
    parser.add_argument(
        "--lambda-concurrency",
        type=int,
        default=10,
        help="instances per function without ReservedConcurrentExecutions (default 10)",
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=0,
        help="answer the list calls pixelctl pages through in pages of at most N (default 0: one page)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    for pair in args.function_env:
        if "=" not in pair or pair.startswith("="):
            parser.error(f"--function-env takes KEY=VALUE, got `{pair}`")
    return args


def configure_moto() -> None:
    """Settings that must be in place before any request: no Docker for Lambda."""
    from moto.core.config import default_user_config

    default_user_config["lambda"]["use_docker"] = False


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("moto").setLevel(logging.ERROR)


def start_providers(fake_providers: bool) -> FakeProviders | None:
    """Bedrock InvokeModel, plus the fake AI providers when asked, sharing one set of controls."""
    from localaws import server
    from localaws.bedrock import BedrockInvoke
    from localaws.fake_providers import HTTP_PROVIDERS, FakeProviders, ProviderControls
    from localaws.lambda_runtime import RUNTIME

    controls = ProviderControls(("bedrock", *HTTP_PROVIDERS) if fake_providers else ("bedrock",))
    server.PROVIDER_CONTROLS = controls
    server.INTERCEPTORS.append(BedrockInvoke(controls))
    if not fake_providers:
        return None
    fake = FakeProviders(controls)
    fake.start()
    # Bedrock stays out: functions reach it through AWS_ENDPOINT_URL (this server), signed, as on AWS.
    # An explicit `--function-env PROVIDER_BASE_URLS=...` wins.
    RUNTIME.extra_env.setdefault("PROVIDER_BASE_URLS", json.dumps(fake.base_urls(), separators=(",", ":")))
    return fake


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

    from localaws import edge, gateway, lambda_runtime, paging, s3_owner
    from localaws.server import INTERCEPTORS

    INTERCEPTORS.extend([s3_owner.intercept, gateway.intercept, edge.intercept])
    lambda_runtime.install()
    INTERCEPTORS.append(lambda_runtime.intercept)
    lambda_runtime.RUNTIME.default_concurrency = max(1, args.lambda_concurrency)
    paging.PAGING.page_size = max(0, args.page_size)
    lambda_runtime.RUNTIME.extra_env.update(pair.split("=", 1) for pair in args.function_env)
    fake = start_providers(args.fake_providers)
    server = LocalAwsServer(ip_address=HOST, port=args.port, verbose=args.verbose)
    server.start()
    _, port = server.get_host_and_port()
    from localaws.hosts import HOSTS

    HOSTS.port = port
    print(f"LOCAL_AWS_ENDPOINT=http://{HOST}:{port}", flush=True)
    if fake is not None:
        print(f"FAKE_PROVIDERS={json.dumps(fake.base_urls(), separators=(',', ':'))}", flush=True)
    stop.wait()
    server.stop()
    lambda_runtime.RUNTIME.shutdown()
    if fake is not None:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
