#!/usr/bin/env bash
# The GPU check, one prepared script for one H100 with no network and no
# TensorFlow (see DESIGN.md, "The GPU machine"). In under 5 minutes it:
#   1. installs the carried wheels (benchmarks/gpu_wheels.sh made them) with
#      --no-deps into a scratch folder: kerazoo, and those of
#      benchmarks/gpu_requirements.txt that the machine's Python lacks (its
#      own are kept: they were installed to match its JAX);
#   2. with KERAS_BACKEND=jax runs benchmarks/gpu.py: ResNet-50 training at
#      float32 and at auto precision (peak memory and energy with each),
#      bert_tiny's tokens/s with a JAX profiler trace, a naive Keras script,
#      ConvNeXt-T compiled and, as time allows, with RandAugment uncompiled;
#   3. writes $OUT/gpu.json and prints a short table.
#
#     OUT=results [BUDGET_SECONDS=270] benchmarks/gpu.sh [WHEEL_DIR] [-- gpu.py options, e.g. --tiny]
#
# BUDGET_SECONDS (default 270): a run is skipped when less of it is left than
# the run needs, and none goes on past it; 450 runs them all. PYTHON
# (default python3) is the machine's Python with JAX; PIP (default
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
# Requirements whose distribution the machine lacks (a present one keeps its version).
missing=$("$python" - <<'EOF'
import importlib.metadata, re
for line in open("benchmarks/gpu_requirements.txt"):
    requirement = line.split("#")[0].strip()
    if requirement:
        try:
            importlib.metadata.version(re.split(r"[=<>!~ ]", requirement)[0])
        except importlib.metadata.PackageNotFoundError:
            print(requirement)
EOF
)
echo "from the wheels: kerazoo ${missing//$'\n'/ }"
site="$(mktemp -d)/site"
# shellcheck disable=SC2086 # one requirement per word
"${pip[@]}" install --quiet --no-index --no-deps --find-links "$wheels" --target "$site" kerazoo $missing
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
export KERAS_BACKEND=jax
echo "installed in $(( $(date +%s) - started )) s"

mkdir -p "$out"
budget="${BUDGET_SECONDS:-270}"
timeout $((budget + 30)) "$python" benchmarks/gpu.py --out "$out" --budget-seconds "$budget" "$@"
echo "gpu.sh finished in $(( $(date +%s) - started )) s; results in $out/gpu.json"
