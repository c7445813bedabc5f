"""The plan's decisions, with devices described by hand (no GPU needed)."""

import pytest

from kerazoo import recipes
from kerazoo.devices import Accelerator, DeviceInfo
from kerazoo.errors import UsageError
from kerazoo.plan import choose_precision, choose_strategy, choose_xla, make_plan

CPU = DeviceInfo("tensorflow", (), cpu_replicas=1, cpu_count=2)


def gpus(count, cc=(9, 0), backend="tensorflow"):
    return DeviceInfo(backend, tuple(Accelerator("GPU", "NVIDIA H100", cc) for _ in range(count)))


@pytest.mark.parametrize(
    "devices, expected",
    [
        (CPU, "float32"),
        (gpus(1, (9, 0)), "mixed_bfloat16"),
        (gpus(1, (8, 0)), "mixed_bfloat16"),
        (gpus(1, (8, 6)), "mixed_bfloat16"),
        (gpus(1, (7, 5)), "mixed_float16"),
        (gpus(1, (7, 0)), "mixed_float16"),
        (gpus(1, (6, 1)), "float32"),
        (DeviceInfo("tensorflow", (Accelerator("TPU", "TPU v4"),)), "mixed_bfloat16"),
    ],
)
def test_auto_precision(devices, expected):
    precision, reason = choose_precision(devices)
    assert precision == expected
    assert reason


def test_mixed_gpus_use_the_weakest_card():
    devices = DeviceInfo("tensorflow", (Accelerator("GPU", "A100", (8, 0)), Accelerator("GPU", "T4", (7, 5))))
    assert choose_precision(devices)[0] == "mixed_float16"


def test_requested_precision_is_kept_with_a_warning_when_unwise():
    precision, reason = choose_precision(CPU, "mixed_bfloat16")
    assert precision == "mixed_bfloat16" and "CPU" in reason
    precision, reason = choose_precision(gpus(1, (7, 5)), "mixed_bfloat16")
    assert "no bfloat16 tensor cores" in reason


def test_auto_strategy_on_tensorflow():
    assert choose_strategy(CPU)[:2] == ("default", ["/cpu:0"])
    assert choose_strategy(gpus(1))[:2] == ("default", ["/gpu:0"])
    assert choose_strategy(gpus(4))[:2] == ("mirrored", ["/gpu:0", "/gpu:1", "/gpu:2", "/gpu:3"])
    replicas = DeviceInfo("tensorflow", (), cpu_replicas=2)
    assert choose_strategy(replicas)[:2] == ("mirrored", ["/cpu:0", "/cpu:1"])
    assert choose_strategy(replicas, "default")[:2] == ("default", ["/cpu:0"])


def test_strategy_must_exist_for_the_backend():
    with pytest.raises(UsageError, match="JAX backend's strategy"):
        choose_strategy(CPU, "data_parallel")
    with pytest.raises(UsageError, match="TensorFlow strategy"):
        choose_strategy(gpus(2, backend="jax"), "mirrored")
    with pytest.raises(UsageError, match="torch backend"):
        choose_strategy(gpus(2, backend="torch"), "mirrored")


def test_jax_and_torch_strategies():
    assert choose_strategy(gpus(2, backend="jax"))[0] == "data_parallel"
    assert choose_strategy(gpus(1, backend="jax"))[0] == "default"
    name, devices, reason = choose_strategy(gpus(2, backend="torch"))
    assert name == "default" and devices == ["/gpu:0"] and "single device" in reason


def test_xla_decisions():
    assert choose_xla(CPU, "default", "float32")[0] is False
    assert choose_xla(gpus(1), "default", "mixed_bfloat16")[0] is True
    off, reason = choose_xla(gpus(2), "mirrored", "mixed_float16")
    assert off is False and "20763" in reason
    assert choose_xla(gpus(2, backend="jax"), "data_parallel", "mixed_bfloat16")[0] is True
    off, reason = choose_xla(gpus(1, backend="jax"), "default", "mixed_bfloat16", "off")  # a user debugging
    assert off is False and "op by op" in reason
    assert choose_xla(CPU, "default", "float32", "on")[0] is True
    assert choose_xla(gpus(1), "default", "float32", "off")[0] is False


def test_batch_and_learning_rate_scale_with_replicas():
    recipe = recipes.get("resnet50")  # lr 0.1 at reference batch 256, 64 per replica
    plan = make_plan(recipe, gpus(8))
    assert (plan.num_replicas, plan.global_batch_size) == (8, 512)
    assert plan.learning_rate == pytest.approx(0.2)
    assert plan.precision == "mixed_bfloat16" and plan.strategy == "mirrored" and plan.xla is False
    single = make_plan(recipe, CPU, batch_size=32)
    assert single.global_batch_size == 32 and single.learning_rate == pytest.approx(0.0125)
    assert set(plan.reasons) >= {"precision", "strategy", "batch", "learning_rate", "xla"}


def test_bad_choices_are_usage_errors():
    recipe = recipes.get("resnet20")
    with pytest.raises(UsageError, match="Did you mean 'mixed_float16'"):
        make_plan(recipe, CPU, precision="mixed_float61")
    with pytest.raises(UsageError, match="positive"):
        make_plan(recipe, CPU, batch_size=-1)


def test_steps_profile_window_and_batchnorm_from_the_data_size():
    recipe = recipes.get("resnet20").override({"train.epochs": 2})
    plan = make_plan(recipe, CPU, batch_size=32).with_data(recipe, 1000)
    assert plan.steps_per_epoch == 31  # partial batch dropped
    assert plan.profile_window == (10, 14)
    assert plan.batchnorm_momentum == 0.9  # a short run: 62 steps
    long = recipes.get("resnet50")
    assert make_plan(long, CPU).with_data(long, 1_281_167).batchnorm_momentum is None


def test_profile_window_is_clamped_and_never_step_one():
    recipe = recipes.get("resnet20").override({"train.epochs": 1})
    short = make_plan(recipe, CPU, batch_size=32).with_data(recipe, 32 * 6)
    assert short.profile_window == (2, 6)
    tiny = make_plan(recipe, CPU, batch_size=32).with_data(recipe, 64)
    assert tiny.profile_window is None and "only 2 step" in tiny.reasons["profile"]
    asked = make_plan(recipe, CPU, batch_size=32, profile=(3, 50)).with_data(recipe, 32 * 8)
    assert asked.profile_window == (3, 8)
    off = make_plan(recipe, CPU, batch_size=32, profile=False).with_data(recipe, 32 * 20)
    assert off.profile_window is None
    with pytest.raises(UsageError):
        make_plan(recipe, CPU, profile=(5, 2)).with_data(recipe, 3200)


def test_too_little_data_for_one_global_batch():
    recipe = recipes.get("resnet20")
    plan = make_plan(recipe, DeviceInfo("tensorflow", (), cpu_replicas=2), batch_size=64)
    with pytest.raises(UsageError, match="fewer than one global batch of 128.*--batch-size"):
        plan.with_data(recipe, 100)


def test_plan_describes_every_decision():
    recipe = recipes.get("resnet20")
    plan = make_plan(recipe, CPU).with_data(recipe, 5000)
    text = plan.describe()
    for word in ("precision", "strategy", "batch", "learning rate", "XLA", "profile", "steps"):
        assert word in text
    assert plan.to_dict()["global_batch_size"] == 128
