"""`kerazoo benchmark`: it measures, it runs on JAX with TensorFlow absent
(as on the GPU machine), and a user's mistake is a message, not a traceback.
No test asserts a speed: shared machines are too noisy."""

import dataclasses
import json
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from conftest import REPO, kerazoo_env, run_kerazoo
from kerazoo import benchmark, recipes
from kerazoo.cli.benchmark_command import describe
from kerazoo.cli.main import cli

TINY = ["--set", "model.args.depth=8"]

# Installed as sitecustomize on PYTHONPATH: `import tensorflow` (and the
# packages that come with it) fails as if it were not installed, and at exit
# the process writes which of them got imported anyway.
TENSORFLOW_BLOCKER = textwrap.dedent(
    """
    import atexit, importlib.abc, os, sys

    BLOCKED = ("tensorflow", "tensorflow_text", "tensorboard", "tensorflow_datasets", "tf_keras")

    class BlockTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
            return None

    sys.meta_path.insert(0, BlockTensorFlow())

    @atexit.register
    def report():
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        with open(os.environ["BLOCKER_REPORT"], "w") as handle:
            handle.write("\\n".join(loaded))
    """
)


@pytest.fixture
def without_tensorflow(tmp_path):
    """Environment variables for a JAX process in which TensorFlow is absent."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(TENSORFLOW_BLOCKER)
    env = kerazoo_env(KERAS_BACKEND="jax", PYTHONPATH=shim, BLOCKER_REPORT=tmp_path / "imported.txt")
    # The blocker itself works: a plain import fails.
    check = subprocess.run([sys.executable, "-c", "import tensorflow"], env=env, capture_output=True, text=True)
    assert check.returncode == 1 and "blocked by the test" in check.stderr
    return env


def test_runs_on_jax_with_tensorflow_blocked(tmp_path, without_tensorflow):
    env = without_tensorflow
    report = tmp_path / "imported.txt"
    result = run_kerazoo(
        "benchmark", "resnet20", "--steps", "2", "--warmup-steps", "1", "--batch-size", "8",
        "--set", "augment.crop_padding=0", *TINY, "--format", "json", cwd=tmp_path, env=env, timeout=300,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert report.exists() and report.read_text() == "", f"imported anyway: {report.read_text()}"
    figures = json.loads(result.stdout)
    assert figures["backend"] == "jax" and figures["xla"] is True
    assert figures["steps"] == 2 and figures["examples_per_second"] > 0
    assert figures["first_step_seconds"] > 0 and figures["step_seconds_p90"] >= figures["step_seconds_median"]
    assert figures["flops_per_example"] > 0 and figures["achieved_flops_per_second"] > 0
    assert figures["peak_memory_bytes"] > 0 and "host" in figures["peak_memory_source"]


@pytest.mark.slow  # six benchmark processes: about two minutes and a half
def test_gpu_script_flow_runs_tiny_on_this_cpu(tmp_path, without_tensorflow):
    """benchmarks/gpu.py as gpu.sh runs it (JAX, no TensorFlow), with tiny models."""
    out = tmp_path / "out"
    script = REPO / "benchmarks" / "gpu.py"
    result = subprocess.run([sys.executable, str(script), "--tiny", "--out", str(out), "--budget-seconds", "900"],
                            env=without_tensorflow, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    record = json.loads((out / "gpu.json").read_text())
    results = {r["role"]: r for r in record["results"]}
    assert list(results) == ["float32", "auto", "text", "naive", "compiled", "uncompiled"]
    assert not [r["error"] for r in results.values() if "error" in r]
    kerazoo_runs = [r for role, r in results.items() if role != "naive"]
    assert all(r["examples_per_second"] > 0 and r["peak_memory_bytes"] for r in kerazoo_runs)
    assert results["text"]["tokens_per_second"] > 0
    assert any(name.endswith(".xplane.pb") for name in record["trace_files"]), record["trace_files"]
    # The naive script: plain Keras, float32, both ways of feeding it timed.
    naive = results["naive"]
    assert naive["precision"] == "float32" and naive["numpy_examples_per_second"] > 0
    assert naive["device_batch_examples_per_second"] > 0
    # RandAugment: moved out of the compiled step; in the model, Keras compiles nothing.
    assert results["compiled"]["xla"] is True and results["uncompiled"]["xla"] is False
    assert set(record["ratios"]) == {"auto_over_float32", "defaults_over_naive", "defaults_over_naive_device_batch",
                                     "float32_over_naive_device_batch", "compiled_over_randaugment_in_model"}
    assert record["ratios"]["defaults_over_naive"] == pytest.approx(
        results["auto"]["examples_per_second"] / naive["numpy_examples_per_second"])
    assert "examples/s" in result.stdout and "auto over float32" in result.stdout


def test_gpu_script_skips_what_the_budget_leaves_no_time_for(tmp_path):
    """A run is skipped, not failed, when less of the budget is left than it needs."""
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--tiny", "--out", str(out),
                             "--budget-seconds", "10"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "gpu.json").read_text())
    assert [r["skipped"] for r in record["results"]] == ["10 s of the budget left, it needs about 20 s"] * 6
    assert record["ratios"] == {} and "skipped for lack of time" in result.stdout and "SKIPPED" in result.stdout


def test_data_without_tensorflow_is_a_usage_error(tmp_path, without_tensorflow):
    result = run_kerazoo("benchmark", "resnet20", "--data", "digits", cwd=tmp_path, env=without_tensorflow, timeout=120)
    assert result.returncode == 2, f"{result.stdout}\n{result.stderr}"
    assert "needs TensorFlow" in result.stderr and "Traceback" not in result.stderr


def test_text_inference_on_the_python_api():
    recipe = recipes.get("bert_tiny").override(
        {"data.sequence_length": 16, "data.vocabulary_size": 200, "model.args.num_layers": 1}
    )
    result = benchmark.run_benchmark(recipe, mode="infer", batch_size=4, steps=3, warmup_steps=1)
    assert (result.mode, result.steps, result.batch_size, result.flops_multiplier) == ("infer", 3, 4, 1)
    assert result.tokens_per_second == pytest.approx(result.examples_per_second * 16)
    assert result.achieved_flops_per_second == pytest.approx(result.flops_per_example * result.examples_per_second)
    lines = "\n".join(describe(result))
    assert "token positions/s" in lines and "forward only" in lines


def test_data_option_measures_the_whole_pipeline():
    recipe = recipes.get("resnet20").override({"model.args.depth": 8})
    result = benchmark.run_benchmark(recipe, batch_size=16, steps=2, warmup_steps=0, data="digits")
    assert "digits" in result.data and result.flops_multiplier == 3
    assert result.achieved_flops_per_second == pytest.approx(3 * result.flops_per_example * result.examples_per_second)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["resnt20"], "Did you mean 'resnet20'?"),
        (["resnet20", "--steps", "0"], "--steps must be 1 or more"),
        (["resnet20", "--batch-size", "0"], "--batch-size must be 1 or more"),
        (["resnet20", "--data", "/no/such/folder"], "does not exist"),
        (["resnet20", "--set", "train.epoks=3"], "Did you mean 'train.epochs'?"),
    ],
)
def test_mistakes_exit_2_with_a_message(arguments, message):
    result = CliRunner().invoke(cli, ["benchmark", *arguments])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_percentile_interpolates_like_numpy():
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert benchmark.percentile(values, 50) == 3.0
    assert benchmark.percentile(values, 90) == pytest.approx(4.6)
    assert benchmark.percentile([7.0], 90) == 7.0


def test_device_memory_on_jax_comes_from_memory_stats(monkeypatch):
    import jax

    from kerazoo.devices import Accelerator, DeviceInfo

    class FakeDevice:
        def memory_stats(self):
            return {"peak_bytes_in_use": 3 * 2**30, "bytes_in_use": 2**30}

    monkeypatch.setattr(jax, "local_devices", lambda *args, **kwargs: [FakeDevice()])
    info = DeviceInfo("jax", accelerators=(Accelerator("GPU", "H100", (9, 0)),))
    peak, source = benchmark._PeakMemory(info).peak()
    assert peak == 3 * 2**30 and "jax memory_stats" in source
    peak, source = benchmark._PeakMemory(DeviceInfo("jax")).peak()
    assert peak > 0 and "host" in source


def fit_with_energy_window(after_steps, steps):
    """Six steps of a tiny model through `energy_window` with a fake NVML whose
    energy counter grows 100 J per finished step; returns (window, nvml)."""
    import keras
    import numpy as np

    from test_monitoring import fake_nvml

    nvml = fake_nvml(count=2)
    finished = {"steps": 0}
    nvml.nvmlDeviceGetTotalEnergyConsumption = lambda handle: finished["steps"] * 100_000  # millijoules

    class CountSteps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            finished["steps"] += 1

    window, note = benchmark.energy_window(after_steps=after_steps, steps=steps, nvml=nvml)
    assert note is None
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((6, 3), "float32"), np.zeros((6, 2), "float32"), batch_size=1, epochs=1,
              callbacks=[CountSteps(), window], verbose=0)
    return window, nvml


def test_energy_covers_exactly_the_timed_steps(monkeypatch):
    """The window opens when the warm-up has finished and closes after the
    last timed step: 2 steps before and 3 timed steps read exactly 300 J."""
    monkeypatch.setattr(benchmark, "MIN_ENERGY_SECONDS", 0.0)
    window, nvml = fit_with_energy_window(after_steps=2, steps=3)
    assert window.figures == {"energy_joules": 300.0, "power_watts": 300.0, "gpu_utilization_percent": 75.0}
    assert window.note is None
    assert nvml.state["initialized"] is False  # NVML shut down once the window closed


def test_energy_of_a_window_too_short_for_nvml_is_left_out():
    window, nvml = fit_with_energy_window(after_steps=2, steps=3)  # milliseconds, under MIN_ENERGY_SECONDS
    assert window.figures == {} and "too short for NVML" in window.note and "--steps" in window.note
    assert nvml.state["initialized"] is False


def test_energy_without_nvml_is_a_reason_not_a_failure():
    from test_monitoring import FakeNvmlError, fake_nvml

    nvml = fake_nvml()
    nvml.nvmlInit = lambda: (_ for _ in ()).throw(FakeNvmlError("Driver Not Loaded"))
    window, note = benchmark.energy_window(after_steps=1, steps=2, nvml=nvml)
    assert window is None and "Driver Not Loaded" in note


def test_examples_per_joule_reach_json_and_table():
    recipe = recipes.get("resnet20").override({"model.args.depth": 8, "augment.crop_padding": 0})
    result = benchmark.run_benchmark(recipe, batch_size=4, steps=2, warmup_steps=0)
    assert result.energy_joules is None and result.to_dict()["examples_per_joule"] is None  # a CPU: no NVML figure
    measured = dataclasses.replace(result, energy_joules=16.0, power_watts=400.0, gpu_utilization_percent=90.0)
    assert measured.examples_per_joule == pytest.approx(4 * 2 / 16.0)
    assert measured.to_dict()["examples_per_joule"] == pytest.approx(0.5)
    lines = "\n".join(describe(measured))
    assert "0.5 examples per joule; 16.0 J over the timed steps; mean 400 W, GPU busy 90%" in lines
