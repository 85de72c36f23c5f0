#!/usr/bin/env bash
# The one-command GPU check (issue 14): on a CUDA machine it runs every part in tools/gpu_check.py (at most about 10
# minutes) and writes gpu_report.md. Without CUDA it exits at once and says so. `--device cpu --tiny` rehearses the
# parts that can run on a CPU. Any arguments are passed on: bash tools/gpu_check.sh --only demo train
# It needs the dev extras (pytest, nbdev): pip install -e '.[dev]' first; without them it stops at once and says so.
set -uo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg
exec python tools/gpu_check.py "$@"
