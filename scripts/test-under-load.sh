#!/usr/bin/env bash
# Runs the test suite while busy loops keep every core loaded, to find tests that depend
# on how fast the machine is (a test must pass on a loaded CI runner as on an idle laptop).
#
#   bash scripts/test-under-load.sh [LOAD_PROCESSES] [vitest args...]
#
# LOAD_PROCESSES (default: twice the cores) busy loops run beside `vitest run
# --maxWorkers=2`; they are killed by their own process ids when the run ends, however it
# ends. Build first (`npm run build`): the CLI tests run dist/.
set -uo pipefail
cd "$(dirname "$0")/.."

cores=$(node -p 'require("node:os").availableParallelism()')
load=${1:-$((cores * 2))}
shift || true

pids=()
stop_load() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  pids=()
}
trap stop_load EXIT
trap 'exit 130' INT TERM

for _ in $(seq "$load"); do
  (while :; do :; done) &
  pids+=("$!")
done
echo "test-under-load: $load busy loops on $cores cores (pids ${pids[*]})" >&2

started=$(date +%s)
npx vitest run --maxWorkers=2 "$@"
status=$?
echo "test-under-load: vitest exited $status after $(( $(date +%s) - started )) s, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit "$status"
