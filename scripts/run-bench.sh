#!/usr/bin/env bash
# `make bench`: start the real services, run every bench/bench_*.py, stop the services.
# Each benchmark prints its table and writes bench/results/<name>.json; figures are ratios
# against references run in the same run (see ../shared/BENCHMARKS.md).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export NEXUS_SERVICES_DIR=${NEXUS_SERVICES_DIR:-$(mktemp -d /tmp/nexus-bench.XXXXXX)}
rmdir "$NEXUS_SERVICES_DIR" 2>/dev/null || true
trap 'scripts/services.sh down' EXIT
trap 'exit 130' INT TERM
scripts/services.sh up || exit 1
# shellcheck disable=SC1091
source "$NEXUS_SERVICES_DIR/env"
mkdir -p bench/results
status=0
# each benchmark runs as a module from the repository root (python -m bench.bench_sim): the
# packages it uses (nexus_ml, service, apps.stack) import without any sys.path edit
for bench in ${BENCH:-bench/bench_*.py}; do
  echo "=== $bench"
  module=${bench%.py}
  .venv/bin/python -m "${module//\//.}" || { echo "FAILED: $bench" >&2; status=1; }
done
exit $status
