#!/usr/bin/env bash
# Run the linters (settings in setup.cfg). tools/ is not import-sorted: its
# scripts import epsam (which installs the mmcv-lite op fallback) before
# mmseg and mmcv, on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/flake8 ]; then PATH="$PWD/.venv/bin:$PATH"; fi
flake8 epsam tools tests
isort --check-only --diff epsam tests
