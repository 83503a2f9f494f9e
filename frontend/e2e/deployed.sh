#!/usr/bin/env bash
# The real-browser e2e test (e2e/app.e2e.mjs) against the web app as
# `pixelctl deploy dev` publishes it: a fresh local AWS with fake AI providers,
# dummy provider keys stored where dev reads them, dev deployed with the API's
# real Lambda code, the page built with the stack's outputs and published behind
# its CloudFront distribution, then Chromium opens it through the distribution's
# local host (http://{id}.cloudfront.localhost:{port}/) and uses the deployed API.
# Nothing leaves this machine. Screenshots go to frontend/e2e/artifacts/deployed/.
#
#   frontend/e2e/deployed.sh                  # the debug build of the API (built if needed)
#   frontend/e2e/deployed.sh --artifact ZIP   # another build, e.g. from `pixelctl build`
set -euo pipefail
cd "$(dirname "$0")/../.."

artifact=""
case "${1:-}" in
  --artifact) artifact=${2:?--artifact needs a zip or bootstrap path} ;;
  "") ;;
  -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
  *) echo "error: unknown option $1 (try --artifact ZIP)" >&2; exit 2 ;;
esac
[[ -x /usr/bin/chromium || -n ${CHROMIUM_PATH:-} ]] || {
  echo "error: /usr/bin/chromium is missing: install Debian's Chromium with \`apt-get update && apt-get install -y chromium\`" >&2
  exit 1
}

tools/local-aws/setup.sh
cargo build --locked --quiet -p pixelctl
if [[ -z $artifact ]]; then
  cargo build --locked --quiet -p pixel-prompt-api --bin bootstrap
  artifact=target/debug/bootstrap
fi
pixelctl=$PWD/target/debug/pixelctl

log=$(mktemp)
.venv/bin/python tools/local-aws/local_aws.py --port 0 --fake-providers > "$log" &
aws_pid=$!
trap 'kill "$aws_pid" 2>/dev/null; wait "$aws_pid" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
  grep -q '^FAKE_PROVIDERS=' "$log" && break
  kill -0 "$aws_pid" 2>/dev/null || { echo "the local AWS did not start" >&2; exit 1; }
  sleep 0.1
done
endpoint=$(sed -n 's/^LOCAL_AWS_ENDPOINT=//p' "$log")
[[ -n $endpoint ]] || { echo "the local AWS did not report its endpoint" >&2; exit 1; }
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL=$endpoint
# pixelctl's model check (deploy step 0) asks the same fake providers.
PIXELCTL_PROVIDER_BASE_URLS=$(sed -n 's/^FAKE_PROVIDERS=//p' "$log")
export PIXELCTL_PROVIDER_BASE_URLS

# A dummy key for each provider dev uses, stored by pixelctl where dev's
# environment file says it lives (the fakes only check that one is sent).
for provider in $("$pixelctl" secrets list dev --output json | node -e '
  const list = JSON.parse(require("fs").readFileSync(0, "utf8"));
  console.log(list.keys.filter((k) => k.used).map((k) => k.providers[0]).join(" "));'); do
  printf %s sk-local-dummy | "$pixelctl" secrets set dev "$provider" --quiet > /dev/null
done

echo "\$ pixelctl deploy dev --yes --require-healthy --no-env-file --artifact $artifact"
"$pixelctl" deploy dev --yes --require-healthy --no-env-file --artifact "$artifact"

outputs=$("$pixelctl" outputs dev --format json)
served() { node -e 'console.log(JSON.parse(process.argv[1]).served_locally[process.argv[2]])' "$outputs" "$1"; }
api=$(served ApiEndpoint)
page=$(served SiteUrl)
echo; echo "e2e against the published page $page (API $api)"
cd frontend
E2E_API=$api E2E_PAGE=$page E2E_PROVIDER_CONTROL=$endpoint/_local-aws/providers \
  E2E_ARTIFACTS=e2e/artifacts/deployed npm run --silent e2e
