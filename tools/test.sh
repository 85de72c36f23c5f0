#!/usr/bin/env bash
# Run every test: each notebook once through nbdev's tester (2 workers, one thread each), then the pytest suite in tests/.
# Cells flagged `#| slow` or `#| cuda` are skipped; run them with e.g. `nbdev_test --flags "slow cuda"` on a GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1} MPLBACKEND=Agg
echo "== notebooks (nbdev_test) =="
nbdev_test --n_workers 2 --timing
echo "== tests/ (pytest) =="
python -m pytest -q -rs tests          # -rs: say why a test was skipped
