#!/usr/bin/env bash
# Create (or reuse) the virtual environment .venv and install epsam into it.
#
# Usage: source tools/setup_env.sh     (used by tools/run_demo.sh and tools/run_tests.sh)
#
# torch and torchvision are installed first, explicitly and as a matched pair:
# a bare `torch` requirement resolves to a multi-GB CUDA build, and
# segment-anything imports torchvision, which only imports beside the torch it
# was built for. Override the pair with EPSAM_TORCH_SPEC, e.g.
#   EPSAM_TORCH_SPEC="torch==2.9.1 torchvision==0.24.1" bash tools/run_tests.sh
# Re-running is cheap: the install is skipped while the requirement files are
# unchanged (a stamp in .venv records their hash).
set -euo pipefail

EPSAM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EPSAM_VENV:-$EPSAM_ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

if [ -z "${EPSAM_TORCH_SPEC:-}" ]; then
  case "$(uname -m)" in
    aarch64|arm64) EPSAM_TORCH_SPEC="torch==2.9.1 torchvision==0.24.1" ;;
    *)             EPSAM_TORCH_SPEC="torch==2.14.1 torchvision==0.29.1" ;;
  esac
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[epsam] creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# shellcheck disable=SC1091
source "$VENV/bin/activate"

stamp="$VENV/.epsam-install-stamp"
want="$(cat "$EPSAM_ROOT"/requirements/*.txt "$EPSAM_ROOT/setup.cfg" "$EPSAM_ROOT/pyproject.toml" \
        | sha256sum | cut -c1-16) $EPSAM_TORCH_SPEC"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[epsam] installing $EPSAM_TORCH_SPEC (first, explicitly)"
  # shellcheck disable=SC2086
  python -m pip install --quiet --disable-pip-version-check $EPSAM_TORCH_SPEC
  echo "[epsam] installing epsam and its requirements"
  # Keep the torch pair fixed while the rest resolves.
  constraints="$(mktemp)"
  python -m pip freeze | grep -iE '^(torch|torchvision)==' > "$constraints"
  python -m pip install --quiet --disable-pip-version-check -c "$constraints" \
    -r "$EPSAM_ROOT/requirements.txt"
  python -m pip install --quiet --disable-pip-version-check -c "$constraints" \
    --no-deps --no-build-isolation -e "$EPSAM_ROOT"
  rm -f "$constraints"
  python -c "import epsam, mmseg.models, segment_anything
from epsam.models.sam.building.bundled_weights import bundled_weights_path
bundled_weights_path('lite_medsam')  # LiteMedSAM's weights: present, size and SHA-256 right" \
    || { echo "[epsam] installation check failed" >&2; exit 1; }
  echo "$want" > "$stamp"
else
  echo "[epsam] reusing $VENV (requirements unchanged)"
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
