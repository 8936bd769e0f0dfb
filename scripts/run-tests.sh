#!/usr/bin/env bash
# `make test`: start the real services, run every test, stop the services even when tests fail.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
export NEXUS_SERVICES_DIR=${NEXUS_SERVICES_DIR:-$(mktemp -d /tmp/nexus-services.XXXXXX)}
rmdir "$NEXUS_SERVICES_DIR" 2>/dev/null || true

cleanup() { scripts/services.sh down; }
trap cleanup EXIT
trap 'exit 130' INT TERM   # exit runs the EXIT trap: services stop

scripts/services.sh up || { echo "could not start the test services" >&2; exit 1; }
# shellcheck disable=SC1091
source "$NEXUS_SERVICES_DIR/env"
export NEXUS_REQUIRE_SERVICES=1   # a test that needs a service and cannot reach it fails
# the per-test times land in .nexus/test-report*.xml (JUnit XML) for a look at where time goes
mkdir -p .nexus
PYTEST=(.venv/bin/pytest -q -p no:cacheprovider --durations=15)
if [ $# -gt 0 ]; then   # `make test ARGS`-style use: exactly the tests asked for, one process
  "${PYTEST[@]}" --junitxml=.nexus/test-report.xml "$@"
  exit $?
fi
# 1. The tests that need no service, on every core (pytest-xdist; a file stays on one worker,
#    so a module fixture is built once).
"${PYTEST[@]}" -m "not integration" -n auto --maxprocesses 4 --dist loadfile \
  --junitxml=.nexus/test-report-unit.xml
unit=$?
# 2. The integration tests one at a time: they share the services, and the closed loops and the
#    browser test run on real time.
"${PYTEST[@]}" -m integration --junitxml=.nexus/test-report.xml
integration=$?
echo "[tests] without services: exit $unit; integration: exit $integration"
[ "$unit" -eq 0 ] && [ "$integration" -eq 0 ]
