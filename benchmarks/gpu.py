"""The GPU check: ResNet-50 training images/s at float32 and at `auto`
precision in the same run, with peak memory, a text recipe's tokens/s, and
a JAX profiler trace; writes one JSON file and prints a short table.

Run by `benchmarks/gpu.sh` on the GPU machine (JAX, no TensorFlow, no
network). Each measurement is its own `python -m kerazoo benchmark`
process, so each peak-memory figure is its own (JAX cannot reset its peak).
`--tiny` runs the same flow with tiny models on a CPU in about a minute,
which is how the tests check it. Run:

    KERAS_BACKEND=jax python benchmarks/gpu.py --out DIR [--tiny]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

# (name, recipe and options). Batch 256 is the usual ResNet-50 figure per
# GPU (NVIDIA's DeepLearningExamples tables use 256 for AMP on 80 GB cards).
# Timeouts: the whole script must end within gpu.sh's limit, and a run cut
# short still leaves the others' figures in gpu.json.
FULL = {
    "steps": 30,
    "warmup_steps": 5,
    "timeout": 130,
    "runs": [
        ("resnet50 train float32", ["resnet50", "--precision", "float32", "--batch-size", "256"]),
        ("resnet50 train auto", ["resnet50", "--precision", "auto", "--batch-size", "256"]),
        ("bert_tiny train auto", ["bert_tiny", "--precision", "auto", "--batch-size", "256"]),
    ],
}
TINY = {
    "steps": 2,
    "warmup_steps": 1,
    "timeout": 240,
    "runs": [
        ("resnet20-depth8 train float32", ["resnet20", "--precision", "float32", "--batch-size", "8",
                                           "--set", "model.args.depth=8", "--set", "augment.crop_padding=0"]),
        ("resnet20-depth8 train auto", ["resnet20", "--precision", "auto", "--batch-size", "8",
                                        "--set", "model.args.depth=8", "--set", "augment.crop_padding=0"]),
        ("bert_tiny-small train auto", ["bert_tiny", "--precision", "auto", "--batch-size", "4",
                                        "--set", "data.sequence_length=16", "--set", "data.vocabulary_size=200",
                                        "--set", "model.args.num_layers=1"]),
    ],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for gpu.json, the logs and the trace")
    parser.add_argument("--tiny", action="store_true", help="tiny models and steps: checks the flow on a CPU")
    parser.add_argument("--budget-seconds", type=float, default=270, help="stop starting runs after this long")
    args = parser.parse_args()
    settings = TINY if args.tiny else FULL
    out = pathlib.Path(args.out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    if os.environ.get("KERAS_BACKEND") != "jax":
        print("warning: KERAS_BACKEND is not 'jax'; the GPU machine has no TensorFlow", file=sys.stderr)

    started = time.perf_counter()
    results = []
    for index, (name, options) in enumerate(settings["runs"]):
        remaining = args.budget_seconds - (time.perf_counter() - started)
        if remaining < 20:
            results.append({"name": name, "error": "skipped: out of time"})
            continue
        # The trace comes from the text run: a small, quick compile.
        trace = out / "trace" if index == len(settings["runs"]) - 1 else None
        results.append(run_one(name, options, settings, out, trace, min(settings["timeout"], remaining)))
        record = summarize(results, out, started)
        (out / "gpu.json").write_text(json.dumps(record, indent=2))  # after every run: partial figures survive
    print_table(record)
    failed = [result["name"] for result in results if "error" in result]
    if failed:
        print(f"failed: {', '.join(failed)} (see {out / 'logs'})", file=sys.stderr)
        sys.exit(1)


def summarize(results, out, started):
    return {
        "machine": machine_summary(results),
        "seconds": round(time.perf_counter() - started, 1),
        "results": results,
        "mixed_over_float32": speedup(results),
        "trace_files": sorted(str(path.relative_to(out)) for path in (out / "trace").rglob("*") if path.is_file()),
    }


def run_one(name, options, settings, out, trace, timeout):
    command = [
        sys.executable, "-m", "kerazoo", "benchmark", *options,
        "--steps", str(settings["steps"]), "--warmup-steps", str(settings["warmup_steps"]), "--format", "json",
    ]
    if trace is not None:
        command += ["--trace-dir", str(trace)]
    log = out / "logs" / f"{name.replace(' ', '_')}.log"
    print(f"running: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    try:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        partial = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else (error.stderr or "")
        log.write_text(f"timed out after {timeout:.0f} s\n{partial}")
        return {"name": name, "error": f"timed out after {timeout:.0f} s"}
    log.write_text(finished.stderr)
    if finished.returncode != 0:
        return {"name": name, "error": f"exit {finished.returncode}: {finished.stderr.strip()[-500:]}"}
    result = json.loads(finished.stdout)
    result["name"] = name
    result["process_seconds"] = round(time.perf_counter() - started, 1)
    return result


def speedup(results):
    """Images/s at auto precision over float32, when both ran."""
    by_precision = {}
    for result in results:
        if "error" not in result and result.get("sequence_length") is None:
            by_precision.setdefault("float32" if "float32" in result["name"] else "auto", result)
    if {"float32", "auto"} <= set(by_precision):
        return by_precision["auto"]["examples_per_second"] / by_precision["float32"]["examples_per_second"]
    return None


def machine_summary(results):
    for result in results:
        if "error" not in result:
            return {"device": result["device"], "backend": result["backend"], "versions": result["versions"]}
    return None


def print_table(record):
    machine = record["machine"] or {}
    print(f"device: {machine.get('device')}; backend {machine.get('backend')}; {machine.get('versions')}")
    header = ("run", "precision", "batch", "examples/s", "tokens/s", "step ms", "first s", "peak GiB", "TFLOP/s")
    rows = [header]
    for result in record["results"]:
        if "error" in result:
            rows.append((result["name"], "FAILED", "", "", "", "", "", "", result["error"][:40]))
            continue
        rows.append((
            result["name"], result["precision"], str(result["batch_size"]),
            f"{result['examples_per_second']:,.1f}",
            f"{result['tokens_per_second']:,.0f}" if result.get("tokens_per_second") else "-",
            f"{result['step_seconds_median'] * 1000:.1f}",
            f"{result['first_step_seconds']:.1f}",
            f"{result['peak_memory_bytes'] / 2**30:.2f}" if result.get("peak_memory_bytes") else "-",
            f"{result['achieved_flops_per_second'] / 1e12:.2f}" if result.get("achieved_flops_per_second") else "-",
        ))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if record["mixed_over_float32"]:
        print(f"auto precision / float32 images/s: {record['mixed_over_float32']:.2f}x")
    print(f"trace files: {len(record['trace_files'])}; total {record['seconds']} s")


if __name__ == "__main__":
    main()
