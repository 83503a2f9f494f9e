#!/usr/bin/env bash
# Create or refresh <repo>/.venv for the local AWS. Idempotent and quiet when
# nothing changed: the venv records the hash of requirements.txt it was built from.
set -euo pipefail
cd "$(dirname "$0")/../.."

requirements=tools/local-aws/requirements.txt
stamp=.venv/.local-aws-requirements.sha256
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)

if [[ -x .venv/bin/python && -f $stamp && $(cat "$stamp") == "$wanted" ]]; then
    exit 0
fi

echo "local-aws: preparing .venv from $requirements" >&2
[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
echo "$wanted" > "$stamp"
