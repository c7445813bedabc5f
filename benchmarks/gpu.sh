#!/usr/bin/env bash
# The GPU check, one prepared script for one H100 with no network and no
# TensorFlow (see DESIGN.md, "The GPU machine"). In under 5 minutes it:
#   1. installs the carried wheels (benchmarks/gpu_wheels.sh made them) into
#      a scratch folder with --no-deps, next to the machine's own JAX;
#   2. with KERAS_BACKEND=jax, measures ResNet-50 training images/s at
#      float32 and at auto precision (peak memory with each), bert_tiny's
#      tokens/s, and records a JAX profiler trace (benchmarks/gpu.py);
#   3. writes $OUT/gpu.json and prints a short table.
#
#     OUT=results benchmarks/gpu.sh [WHEEL_DIR] [-- gpu.py options, e.g. --tiny]
#
# PYTHON (default python3) is the machine's Python with JAX; PIP (default
# "$PYTHON -m pip") installs.
set -euo pipefail
cd "$(dirname "$0")/.."
wheels="benchmarks/wheels"
if [[ $# -gt 0 && "$1" != "--" ]]; then wheels="$1"; shift; fi
[[ "${1:-}" == "--" ]] && shift
out="${OUT:-gpu-results}"
python="${PYTHON:-python3}"
read -r -a pip <<< "${PIP:-$python -m pip}"
started=$(date +%s)

"$python" -c "import jax; print('JAX', jax.__version__, 'devices:', jax.devices())"
site="$(mktemp -d)/site"
"${pip[@]}" install --quiet --no-index --no-deps --find-links "$wheels" --target "$site" \
    -r benchmarks/gpu_requirements.txt kerazoo
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
export KERAS_BACKEND=jax
echo "installed in $(( $(date +%s) - started )) s"

mkdir -p "$out"
timeout 280 "$python" benchmarks/gpu.py --out "$out" "$@"
echo "gpu.sh finished in $(( $(date +%s) - started )) s; results in $out/gpu.json"
