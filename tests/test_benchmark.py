"""`kerazoo benchmark`: it measures, it runs on JAX with TensorFlow absent
(as on the GPU machine), and a user's mistake is a message, not a traceback.
No test asserts a speed: shared machines are too noisy."""

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


@pytest.mark.slow  # three benchmark processes: about a minute and a half
def test_gpu_script_flow_runs_tiny_on_this_cpu(tmp_path, without_tensorflow):
    """benchmarks/gpu.py as gpu.sh runs it (JAX, no TensorFlow), with tiny models."""
    out = tmp_path / "out"
    script = REPO / "benchmarks" / "gpu.py"
    result = subprocess.run([sys.executable, str(script), "--tiny", "--out", str(out)], env=without_tensorflow,
                            cwd=tmp_path, capture_output=True, text=True, timeout=420)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    record = json.loads((out / "gpu.json").read_text())
    assert [r["name"] for r in record["results"]] == [
        "resnet20-depth8 train float32", "resnet20-depth8 train auto", "bert_tiny-small train auto"]
    assert all("error" not in r and r["examples_per_second"] > 0 and r["peak_memory_bytes"] for r in record["results"])
    assert record["results"][2]["tokens_per_second"] > 0 and record["mixed_over_float32"] > 0
    assert any(name.endswith(".xplane.pb") for name in record["trace_files"]), record["trace_files"]
    assert "examples/s" in result.stdout and "auto precision / float32" in result.stdout


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
