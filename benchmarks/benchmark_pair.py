"""Two `kerazoo benchmark` configurations side by side, interleaved.

Each repeat runs `kerazoo benchmark --format json` once per configuration,
alternating, each in a fresh process; the figure is examples/s (median of
the repeats, with the spread) and the per-repeat ratio B / A. Used for the
questions a single benchmark cannot settle on a noisy machine, e.g.
bfloat16 against float32 on this CPU:

    python benchmarks/benchmark_pair.py resnet50 --common "--batch-size 16 --steps 5" \\
        --a "--precision float32" --b "--precision mixed_bfloat16" [--repeats 5] [--json out.json]

KERAS_BACKEND chooses the backend as usual.
"""

import argparse
import json
import pathlib
import shlex
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _measure import describe, machine, paired_ratios, write_figures  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe")
    parser.add_argument("--a", required=True, help="options of configuration A, one string")
    parser.add_argument("--b", required=True, help="options of configuration B, one string")
    parser.add_argument("--common", default="", help="options given to both")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    configurations = {"A": args.a, "B": args.b}
    throughput = {name: [] for name in configurations}
    runs = {name: [] for name in configurations}
    for index in range(args.repeats):
        for name, options in configurations.items():
            command = [sys.executable, "-m", "kerazoo", "benchmark", args.recipe, *shlex.split(args.common),
                       *shlex.split(options), "--format", "json"]
            finished = subprocess.run(command, capture_output=True, text=True, check=False)
            if finished.returncode != 0:
                sys.exit(f"{' '.join(command[2:])} failed:\n{finished.stderr[-2000:]}")
            result = json.loads(finished.stdout)
            throughput[name].append(result["examples_per_second"])
            runs[name].append(result)
            print(f"repeat {index + 1}: {name} ({options}) {result['examples_per_second']:.2f} examples/s, "
                  f"step {result['step_seconds_median'] * 1000:.1f} ms, precision {result['precision']}, "
                  f"XLA {'on' if result['xla'] else 'off'}", flush=True)
    first = runs["A"][0]
    print(f"machine: {machine()}; {first['device']}; backend {first['backend']}; {first['versions']}")
    print(f"{args.recipe} {args.common}, {first['mode']}, batch {first['batch_size']}, examples/s:")
    for name, options in configurations.items():
        print(f"  {name} {options:<40} {describe(throughput[name], '', 1, 2)}")
    ratios = paired_ratios(throughput["B"], throughput["A"])
    print(f"  B / A: {describe(ratios, '', 1, 3)} per repeat")
    if args.json:
        write_figures(args.json, args, examples_per_second=throughput, ratios_b_over_a=ratios, runs=runs)


if __name__ == "__main__":
    main()
