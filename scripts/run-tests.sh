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
# 1. The two closed loops in the background: they wait on a simulated clock (30x), asleep most
#    of the time, and pass under load (10 runs in a row with the other core pinned).
LOOPS=(tests/loop/test_closed_loop.py tests/loop/test_closed_loop_champion.py)
"${PYTEST[@]}" "${LOOPS[@]}" --junitxml=.nexus/test-report-loops.xml >.nexus/loops.log 2>&1 &
loops_pid=$!
trap 'kill "$loops_pid" 2>/dev/null; cleanup' EXIT
# 2. Meanwhile the tests that need no service, on every core (pytest-xdist; a file stays on one
#    worker, so a module fixture is built once).
"${PYTEST[@]}" -m "not integration" -n auto --maxprocesses 4 --dist loadfile \
  --junitxml=.nexus/test-report-unit.xml
unit=$?
wait "$loops_pid"
loops=$?
echo "[tests] the closed loops (run beside the tests above):"
cat .nexus/loops.log
# 3. The other integration tests one at a time: they share the services, and the browser and
#    release tests measure real time.
"${PYTEST[@]}" -m integration "${LOOPS[@]/#/--ignore=}" --junitxml=.nexus/test-report.xml
integration=$?
echo "[tests] without services: exit $unit; closed loops: exit $loops; integration: exit $integration"
[ "$unit" -eq 0 ] && [ "$loops" -eq 0 ] && [ "$integration" -eq 0 ]
