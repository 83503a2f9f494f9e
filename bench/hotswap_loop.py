"""Edit -> live code on the local AWS: `pixelctl deploy dev --hotswap` (build
included) next to a full deploy of the same kind of change, with dev's fast
`lambda-dev` build profile. Prints each run, the medians and the AWS calls.

Run it through `bench/hotswap-loop` (uses the repo's .venv for the local AWS).
Each run changes one string literal of the API (lambda/src/lambda_entry.rs), so
the binary differs, and restores the file at the end. pixelctl deploys stack
`pixel-prompt-dev` of a throwaway local AWS (127.0.0.1 only, dummy credentials)
from this checkout (PIXELCTL_PROJECT_DIR=repo), without the web app or .env.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deploy_vs_aws_cli import REPO, LocalAws  # noqa: E402  (the same local AWS launcher)

EDITED = REPO / "lambda" / "src" / "lambda_entry.rs"
LITERAL = '"Pixel Prompt API starting'


def env_for(endpoint: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIXELCTL_"))}
    env.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_REGION="us-west-2",
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE=str(workdir / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-credentials"),
        PIXELCTL_PROJECT_DIR=str(REPO),
    )
    return env


def deploy(pixelctl: Path, env: dict[str, str], extra: list[str]) -> tuple[float, dict, str]:
    cmd = [str(pixelctl), "deploy", "dev", "--yes", "--no-frontend", "--no-env-file",
           "--allow-missing-keys", "--no-model-check", "--health-timeout", "120",
           "--output", "json", *extra]
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=3600)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return elapsed, json.loads(done.stdout), done.stderr


def edit(original: str, n: int) -> None:
    EDITED.write_text(original.replace(LITERAL, f'"Pixel Prompt API (edit {n}) starting', 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="hotswap runs (default 3)")
    parser.add_argument("--full-runs", type=int, default=2, help="full deploy runs (default 2)")
    parser.add_argument("--pixelctl", type=Path, default=REPO / "target" / "debug" / "pixelctl")
    args = parser.parse_args()
    original = EDITED.read_text()
    if LITERAL not in original:
        raise SystemExit(f"{EDITED} no longer holds {LITERAL}: update bench/hotswap_loop.py")
    workdir = Path(tempfile.mkdtemp(prefix="pixelctl-hotswap-bench-"))
    aws = LocalAws(workdir)
    endpoint = aws.start()
    env = env_for(endpoint, workdir)
    rows: list[tuple[str, float, float, int, int]] = []
    try:
        print("creating the stack with the lambda-dev build (not measured)", file=sys.stderr)
        deploy(args.pixelctl, env, [])
        n = 0
        for kind, runs, extra in (("hotswap", args.runs, ["--hotswap"]), ("full deploy", args.full_runs, [])):
            for _ in range(runs):
                n += 1
                edit(original, n)
                aws.clear_requests()
                elapsed, report, stderr = deploy(args.pixelctl, env, extra)
                built = re.search(r"built in ([0-9.]+)s", stderr)
                calls = [c["operation"] for c in aws.requests()]
                lambda_calls = sum(1 for c in calls if "/2015-03-31/functions/" in c)
                expected = "hotswapped" if kind == "hotswap" else "updated"
                if report["outcome"] != expected:
                    raise SystemExit(f"{kind}: outcome {report['outcome']}, expected {expected}\n{stderr[-2000:]}")
                rows.append((kind, elapsed, float(built.group(1)) if built else float("nan"), len(calls), lambda_calls))
                print(f"{kind:11} run {n}: {elapsed:6.1f} s edit->live (build {rows[-1][2]:.1f} s), "
                      f"{len(calls)} AWS calls, {lambda_calls} Lambda", file=sys.stderr)
    finally:
        EDITED.write_text(original)
        aws.stop()
    print("| scenario | runs | edit -> live (median) | of which build | AWS calls | Lambda calls |")
    print("|---|---|---|---|---|---|")
    for kind in ("hotswap", "full deploy"):
        mine = [r for r in rows if r[0] == kind]
        if not mine:
            continue
        print(f"| {kind} | {len(mine)} | {statistics.median(r[1] for r in mine):.1f} s "
              f"| {statistics.median(r[2] for r in mine):.1f} s | {statistics.median(r[3] for r in mine):.0f} "
              f"| {statistics.median(r[4] for r in mine):.0f} |")
    print(f"\nload average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
