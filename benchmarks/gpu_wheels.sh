#!/usr/bin/env bash
# Prepare the wheels that benchmarks/gpu.sh installs on the GPU machine,
# which has no network: kerazoo built from this checkout, and everything in
# benchmarks/gpu_requirements.txt for that machine's Python (3.12 unless
# told otherwise) on x86-64 Linux. Run here, where the package index is
# reachable:
#
#     benchmarks/gpu_wheels.sh [PYTHON_VERSION]      # fills benchmarks/wheels/
#
# Then carry benchmarks/wheels to the GPU machine with the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-3.12}"
dest="${WHEELS:-benchmarks/wheels}"
pip="${PIP:-pip}"
mkdir -p "$dest"
rm -f "$dest"/kerazoo-*.whl
rm -rf build  # setuptools keeps files deleted from the source in build/lib
# --no-build-isolation: build with this environment's setuptools, no download.
$pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$dest" .
$pip download --quiet --no-deps --only-binary=:all: --dest "$dest" \
    --python-version "$version" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
    -r benchmarks/gpu_requirements.txt
ls -1 "$dest"
du -sh "$dest"
