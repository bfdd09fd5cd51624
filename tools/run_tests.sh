#!/usr/bin/env bash
# Quick-start command 2: set up (or reuse) .venv and run the whole test suite,
# slow end-to-end tests included. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup_env.sh
python -m pytest tests -q "$@"
