"""Start-up cost: `kerazoo list` and `kerazoo --help` against `import keras`.

The light commands import neither TensorFlow nor Keras, so they should cost
a small fraction of `python -c "import keras"`. Run:

    python benchmarks/startup.py [--repeats 7] [--json out.json]
"""

import argparse
import json
import pathlib
import shutil
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _measure import command, interleaved, machine, summary  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    kerazoo = shutil.which("kerazoo") or str(pathlib.Path(sys.executable).with_name("kerazoo"))
    candidates = {
        "kerazoo list": command(kerazoo, "list"),
        "kerazoo --help": command(kerazoo, "--help"),
        "python -c 'import keras'": command(sys.executable, "-c", "import keras"),
    }
    candidates["kerazoo list"]()  # warm the file cache for every candidate alike
    candidates["python -c 'import keras'"]()
    timings = interleaved(candidates, args.repeats)
    results = {name: summary(values) for name, values in timings.items()}
    baseline = results["python -c 'import keras'"]["median"]
    print(f"machine: {machine()}")
    print(f"{'command':<28} {'median s':>9} {'min':>7} {'max':>7} {'vs import keras':>16}")
    for name, figures in results.items():
        ratio = figures["median"] / baseline
        print(f"{name:<28} {figures['median']:9.3f} {figures['min']:7.3f} {figures['max']:7.3f} {ratio:15.2f}x")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
