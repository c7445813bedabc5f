"""The GPU check: what kerazoo's defaults give on one GPU, beside what a
naive script and a plain float32 run give, in one run; writes one JSON file
and prints a short table.

Runs, in order of importance (a run is skipped, and marked so, when less of
`--budget-seconds` is left than it needs; the default keeps gpu.sh under 5
minutes and skips the last):

1. ResNet-50 training at float32 and at `auto` precision (bfloat16 on
   Hopper), batch 256, with peak memory and energy (NVML);
2. bert_tiny training at `auto`: tokens/s, and a JAX profiler trace;
3. the naive script (benchmarks/gpu_naive.py): Keras's ResNet50, float32,
   default compile, numpy arrays into `fit` (and the same model fed one
   batch already on the device);
4. ConvNeXt-T, whose recipe has RandAugment: the compiled step kerazoo
   runs (RandAugment moved to the host's tf.data pipeline) against the step
   Keras runs with RandAugment in the model (`--xla off`: Keras cannot
   compile RandAugment, so JAX runs the step op by op).

Run by `benchmarks/gpu.sh` on the GPU machine (JAX, no TensorFlow, no
network). Each measurement is its own process, so each peak-memory figure
is its own (JAX cannot reset its peak). `--tiny` runs the same flow with
tiny models on a CPU in a few minutes, which is how the tests check it. Run:

    KERAS_BACKEND=jax python benchmarks/gpu.py --out DIR [--tiny] [--budget-seconds 270]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


def kerazoo_run(role, name, options, steps, warmup_steps, needs, timeout):
    """A `kerazoo benchmark` process. `role` names the run in RATIOS; it is
    skipped when less than `needs` seconds of the budget are left."""
    return {"role": role, "name": name, "needs": needs, "timeout": timeout, "command": [
        "-m", "kerazoo", "benchmark", *options, "--steps", str(steps), "--warmup-steps", str(warmup_steps),
        "--format", "json",
    ]}


def naive_run(name, options, needs, timeout):
    return {"role": "naive", "name": name, "needs": needs, "timeout": timeout,
            "command": [str(HERE / "gpu_naive.py"), *options]}


# Batch 256 is the usual ResNet-50 figure per GPU (NVIDIA's
# DeepLearningExamples tables use 256 for AMP on 80 GB cards). `needs`: a
# little over what each process took on an H200 (2026-11-27), so that the
# default budget runs the first five and skips the slow last one. Timeouts
# keep a stuck run from taking the others' time; gpu.json is written after
# every run, so a run cut short leaves the others' figures.
RESNET50 = ["resnet50", "--batch-size", "256"]
CONVNEXT = ["convnext_tiny", "--precision", "auto", "--batch-size", "128"]
FULL = [
    kerazoo_run("float32", "resnet50 train float32", [*RESNET50, "--precision", "float32"], 50, 5, 55, 130),
    kerazoo_run("auto", "resnet50 train auto", [*RESNET50, "--precision", "auto"], 50, 5, 55, 130),
    # 800 steps: bert_tiny steps take milliseconds, and NVML needs 2 s to read energy.
    kerazoo_run("text", "bert_tiny train auto", ["bert_tiny", "--precision", "auto", "--batch-size", "256"], 800, 5, 40, 90),
    naive_run("naive resnet50 float32", ["--batch-size", "256", "--steps", "30"], 50, 130),
    kerazoo_run("compiled", "convnext_tiny compiled, RandAugment on the host", CONVNEXT, 30, 5, 95, 130),
    kerazoo_run("uncompiled", "convnext_tiny RandAugment in model, not compiled", [*CONVNEXT, "--xla", "off"], 3, 1, 180, 220),
]
TINY_RESNET = ["resnet20", "--batch-size", "8", "--set", "model.args.depth=8", "--set", "augment.crop_padding=0"]
TINY_RANDAUGMENT = [*TINY_RESNET, "--precision", "auto", "--set", "augment.randaugment_magnitude=9",
                    "--set", "augment.randaugment_ops=1"]  # one operation: a quicker uncompiled first step
TINY = [
    kerazoo_run("float32", "resnet20-depth8 train float32", [*TINY_RESNET, "--precision", "float32"], 2, 1, 20, 240),
    kerazoo_run("auto", "resnet20-depth8 train auto", [*TINY_RESNET, "--precision", "auto"], 2, 1, 20, 240),
    kerazoo_run("text", "bert_tiny-small train auto", ["bert_tiny", "--precision", "auto", "--batch-size", "4", "--set", "data.sequence_length=16",
                         "--set", "data.vocabulary_size=200", "--set", "model.args.num_layers=1"], 2, 1, 20, 240),
    naive_run("naive mobilenet_v3_small float32", ["--model", "MobileNetV3Small", "--image-size", "32", "--classes", "10",
                                         "--batch-size", "4", "--steps", "2", "--warmup-steps", "1"], 20, 240),
    kerazoo_run("compiled", "resnet20-depth8 compiled, RandAugment on the host", TINY_RANDAUGMENT, 2, 1, 20, 240),
    kerazoo_run("uncompiled", "resnet20-depth8 RandAugment in model, not compiled", [*TINY_RANDAUGMENT, "--xla", "off"], 2, 1, 20, 240),
]
# (figure, numerator's role, its figure, denominator's role, its figure)
RATIOS = [
    ("auto_over_float32", "auto", "examples_per_second", "float32", "examples_per_second"),
    ("defaults_over_naive", "auto", "examples_per_second", "naive", "numpy_examples_per_second"),
    ("defaults_over_naive_device_batch", "auto", "examples_per_second", "naive", "device_batch_examples_per_second"),
    ("float32_over_naive_device_batch", "float32", "examples_per_second", "naive", "device_batch_examples_per_second"),
    ("compiled_over_randaugment_in_model", "compiled", "examples_per_second", "uncompiled", "examples_per_second"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for gpu.json, the logs and the trace")
    parser.add_argument("--tiny", action="store_true", help="tiny models and steps: checks the flow on a CPU")
    parser.add_argument("--budget-seconds", type=float, default=270, help="start no run after this long")
    args = parser.parse_args()
    runs = TINY if args.tiny else FULL
    out = pathlib.Path(args.out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    if os.environ.get("KERAS_BACKEND") != "jax":
        print("warning: KERAS_BACKEND is not 'jax'; the GPU machine has no TensorFlow", file=sys.stderr)

    started = time.perf_counter()
    results = []
    for run in runs:
        remaining = args.budget_seconds - (time.perf_counter() - started)
        if remaining < run["needs"]:
            results.append({"role": run["role"], "name": run["name"],
                            "skipped": f"{remaining:.0f} s of the budget left, it needs about {run['needs']} s"})
        else:
            # The trace comes from the text run: a small, quick compile.
            trace = out / "trace" if run["role"] == "text" else None
            results.append(run_one(run, out, trace, min(run["timeout"], remaining)))
        record = summarize(results, out, started)
        (out / "gpu.json").write_text(json.dumps(record, indent=2))  # after every run: partial figures survive
    print_table(record)
    skipped = [result["name"] for result in results if "skipped" in result]
    if skipped:
        print(f"skipped for lack of time (raise --budget-seconds): {', '.join(skipped)}")
    failed = [result["name"] for result in results if "error" in result]
    if failed:
        print(f"failed: {', '.join(failed)} (see {out / 'logs'})", file=sys.stderr)
        sys.exit(1)


def summarize(results, out, started):
    return {
        "machine": machine_summary(results),
        "seconds": round(time.perf_counter() - started, 1),
        "results": results,
        "ratios": ratios(results),
        "trace_files": sorted(str(path.relative_to(out)) for path in (out / "trace").rglob("*") if path.is_file()),
    }


def run_one(run, out, trace, timeout):
    command = [sys.executable, *run["command"]]
    if trace is not None:
        command += ["--trace-dir", str(trace)]
    log = out / "logs" / f"{run['role']}.log"
    print(f"running: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    failure = {"role": run["role"], "name": run["name"]}
    try:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        partial = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else (error.stderr or "")
        log.write_text(f"timed out after {timeout:.0f} s\n{partial}")
        return {**failure, "error": f"timed out after {timeout:.0f} s"}
    log.write_text(finished.stderr)
    if finished.returncode != 0:
        return {**failure, "error": f"exit {finished.returncode}: {finished.stderr.strip()[-500:]}"}
    result = json.loads(finished.stdout)
    result.update(failure, process_seconds=round(time.perf_counter() - started, 1))
    return result


def ratios(results):
    """Each ratio of RATIOS whose two runs both finished."""
    by_role = {result["role"]: result for result in results if finished(result)}
    figures = {}
    for name, top_role, top_key, bottom_role, bottom_key in RATIOS:
        if top_role in by_role and bottom_role in by_role:
            figures[name] = by_role[top_role][top_key] / by_role[bottom_role][bottom_key]
    return figures


def finished(result):
    return "error" not in result and "skipped" not in result


def machine_summary(results):
    for result in results:
        if finished(result) and "device" in result:
            return {"device": result["device"], "backend": result["backend"], "versions": result["versions"]}
    return None


def print_table(record):
    machine = record["machine"] or {}
    print(f"device: {machine.get('device')}; backend {machine.get('backend')}; {machine.get('versions')}")
    header = ("run", "precision", "batch", "examples/s", "tokens/s", "step ms", "first s", "peak GiB", "TFLOP/s",
              "W", "examples/J")
    rows = [header]
    for result in record["results"]:
        if not finished(result):
            status, why = ("SKIPPED", result["skipped"]) if "skipped" in result else ("FAILED", result["error"])
            rows.append((result["name"], status, "", "", "", "", "", "", "", "", why[:40]))
        elif result["role"] == "naive":
            rows.append((
                f"{result['name']} (numpy / device batch)", result["precision"], str(result["batch_size"]),
                f"{result['numpy_examples_per_second']:,.1f} / {result['device_batch_examples_per_second']:,.1f}",
                "-", f"{result['numpy_step_seconds_median'] * 1000:.1f}", f"{result['first_step_seconds']:.1f}",
                "-", "-", "-", "-",
            ))
        else:
            rows.append((
                result["name"], result["precision"], str(result["batch_size"]),
                f"{result['examples_per_second']:,.1f}",
                f"{result['tokens_per_second']:,.0f}" if result.get("tokens_per_second") else "-",
                f"{result['step_seconds_median'] * 1000:.1f}",
                f"{result['first_step_seconds']:.1f}",
                f"{result['peak_memory_bytes'] / 2**30:.2f}" if result.get("peak_memory_bytes") else "-",
                f"{result['achieved_flops_per_second'] / 1e12:.2f}" if result.get("achieved_flops_per_second") else "-",
                f"{result['power_watts']:.0f}" if result.get("power_watts") else "-",
                f"{result['examples_per_joule']:.2f}" if result.get("examples_per_joule") else "-",
            ))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    for name, value in record["ratios"].items():
        print(f"{name.replace('_', ' ')}: {value:.2f}x")
    print(f"trace files: {len(record['trace_files'])}; total {record['seconds']} s")


if __name__ == "__main__":
    main()
