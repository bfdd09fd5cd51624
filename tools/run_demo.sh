#!/usr/bin/env bash
# Quick-start command 1: set up (or reuse) .venv and run the offline demo:
# synthetic H&E data, the whole EP-SAM pipeline with small models (SAM is a
# randomly initialised stand-in unless --sam-checkpoint is given), a results
# table and picture grids under work_dirs/demo/. Extra arguments go to demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup_env.sh
python tools/demo.py "$@"
