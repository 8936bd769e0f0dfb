#!/usr/bin/env bash
# `make test`: start the real services, run every test, stop the services even when tests fail.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export NEXUS_SERVICES_DIR=${NEXUS_SERVICES_DIR:-$(mktemp -d /tmp/nexus-services.XXXXXX)}
rmdir "$NEXUS_SERVICES_DIR" 2>/dev/null || true

cleanup() { scripts/services.sh down; }
trap cleanup EXIT
trap 'exit 130' INT TERM   # exit runs the EXIT trap: services stop

scripts/services.sh up || { echo "could not start the test services" >&2; exit 1; }
# shellcheck disable=SC1091
source "$NEXUS_SERVICES_DIR/env"
export NEXUS_REQUIRE_SERVICES=1   # a test that needs a service and cannot reach it fails
# the per-test times land in .nexus/test-report.xml (JUnit XML) for a look at where time goes
mkdir -p .nexus
.venv/bin/pytest -q -p no:cacheprovider --durations=15 --junitxml=.nexus/test-report.xml "$@"
