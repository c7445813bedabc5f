"""Monitoring callbacks: GPU figures through a faked NVML, host figures on
this CPU, what TensorBoard records, and the input-bound check."""

import sys
import time
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerazoo.callbacks import input_bound, monitoring

BATCH = 4
STEPS = 3
MILLIJOULES_PER_READ = 50_000  # the fake energy counter grows 50 J between reads


class FakeNvmlError(Exception):
    pass


def fake_nvml(count=2, energy_counter=True):
    """An NVML module with `count` GPUs at 75% use, 2 GiB used, 300 W."""
    state = {"energy": [0] * count, "initialized": False}

    def energy(handle):
        if not energy_counter:
            raise FakeNvmlError("Not Supported")
        state["energy"][handle] += MILLIJOULES_PER_READ
        return state["energy"][handle]

    return types.SimpleNamespace(
        NVMLError=FakeNvmlError,
        state=state,
        nvmlInit=lambda: state.update(initialized=True),
        nvmlShutdown=lambda: state.update(initialized=False),
        nvmlDeviceGetCount=lambda: count,
        nvmlDeviceGetHandleByIndex=lambda index: index,
        nvmlDeviceGetHandleByUUID=lambda uuid: int(uuid.rsplit("-", 1)[1]),
        nvmlDeviceGetUtilizationRates=lambda handle: types.SimpleNamespace(gpu=75, memory=30),
        nvmlDeviceGetMemoryInfo=lambda handle: types.SimpleNamespace(used=2 * 2**30, total=80 * 2**30),
        nvmlDeviceGetPowerUsage=lambda handle: 300_000,  # milliwatts
        nvmlDeviceGetTotalEnergyConsumption=energy,
    )


def tiny_fit(callbacks, epochs=2, steps=STEPS):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((BATCH * steps, 3), "float32")
    y = np.zeros((BATCH * steps, 2), "float32")
    return model.fit(x, y, batch_size=BATCH, epochs=epochs, callbacks=callbacks, verbose=0)


def test_gpu_figures_and_energy_reach_history_and_tensorboard(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    nvml = fake_nvml()
    notes = []
    monitor = monitoring.ResourceMonitor(BATCH, interval_seconds=0.01, log=notes.append, nvml=nvml)
    board = keras.callbacks.TensorBoard(log_dir=str(tmp_path), write_graph=False, profile_batch=0)
    history = tiny_fit([monitor, board]).history
    assert notes == []
    for gpu in (0, 1):
        assert history[f"gpu{gpu}_utilization_percent"] == [75.0, 75.0]
        assert history[f"gpu{gpu}_memory_used_gib"] == [2.0, 2.0]
        assert history[f"gpu{gpu}_power_watts"] == [300.0, 300.0]
    joules = 2 * MILLIJOULES_PER_READ / 1000  # two GPUs, one read at each end of the epoch
    assert history["gpu_energy_joules"] == [joules, joules]
    assert history["examples_per_joule"] == [pytest.approx(STEPS * BATCH / joules)] * 2
    assert history["host_memory_used_gib"][0] > 0 and 0 < history["host_memory_percent"][0] <= 100
    assert history["process_cpu_percent"][0] >= 0
    assert nvml.state["initialized"] is False  # shut down at the end of training
    events = EventAccumulator(str(tmp_path / "train"), size_guidance={"tensors": 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    assert {"epoch_gpu0_power_watts", "epoch_examples_per_joule", "epoch_host_memory_used_gib"} <= tags, tags


def test_without_an_energy_counter_power_is_integrated():
    sampler = monitoring.GpuSampler(fake_nvml(count=1, energy_counter=False), [0], interval_seconds=1.0)
    sampler.begin_epoch()
    for _ in range(3):
        time.sleep(0.02)
        sampler.sample()
    started = sampler._samples[0][0][0]
    figures = sampler.end_epoch()
    elapsed = sampler._samples[0][-1][0] - started
    assert figures["gpu_energy_joules"] == pytest.approx(300.0 * elapsed)


def test_cuda_visible_devices_narrows_the_gpus(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-fake-1")
    sampler, note = monitoring.open_gpus(fake_nvml(count=2), 1.0)
    assert note is None and sampler.handles == [1]


@pytest.mark.parametrize("problem", ["not installed", "no driver"])
def test_missing_nvml_is_one_note_and_host_figures_still_come(monkeypatch, problem):
    if problem == "not installed":
        monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
        nvml = None
    else:
        nvml = fake_nvml()
        nvml.nvmlInit = lambda: (_ for _ in ()).throw(FakeNvmlError("Driver Not Loaded"))
    notes = []
    history = tiny_fit([monitoring.ResourceMonitor(BATCH, log=notes.append, nvml=nvml)]).history
    assert len(notes) == 1 and "GPU figures off" in notes[0], notes
    assert not any(key.startswith("gpu") for key in history)
    assert len(history["host_memory_used_gib"]) == 2


def test_host_figures_without_psutil(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)
    host = monitoring.HostSampler()
    host.begin_epoch()
    sum(range(200_000))
    figures = host.end_epoch()
    assert figures["host_memory_used_gib"] > 0 and 0 < figures["host_memory_percent"] <= 100
    assert figures["process_cpu_percent"] >= 0


def slow_pipeline(seconds_per_batch):
    """Batches of the tiny model's data, each taking `seconds_per_batch` to make."""

    def wait(x, y):
        time.sleep(seconds_per_batch)
        return x, y

    dataset = tf.data.Dataset.from_tensors((np.ones((BATCH, 3), "float32"), np.zeros((BATCH, 2), "float32")))
    dataset = dataset.repeat().map(lambda x, y: tf.numpy_function(wait, [x, y], [tf.float32, tf.float32]))
    return dataset.map(lambda x, y: (tf.ensure_shape(x, (BATCH, 3)), tf.ensure_shape(y, (BATCH, 2)))).prefetch(2)


def test_a_slow_pipeline_is_reported_input_bound_after_the_window():
    dataset = slow_pipeline(0.05)
    lines = []
    check = input_bound.InputBoundCheck(dataset, (6, 8), BATCH, num_batches=3, log=lines.append)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(dataset, epochs=1, steps_per_epoch=10, callbacks=[check], verbose=0)
    assert len(lines) == 1 and lines[0].strip().startswith("input-bound"), lines
    assert check.result["input_bound"] and check.result["steps_measured"] == 4  # steps 2-5: before the window
    assert check.result["pipeline_seconds_per_batch"] >= 0.04
    assert "ms/batch" in lines[0] and "examples/s" in lines[0]


def test_a_run_shorter_than_the_window_is_checked_at_its_end():
    lines = []
    dataset = tf.data.Dataset.from_tensors((np.ones((BATCH, 3), "float32"), np.zeros((BATCH, 2), "float32"))).repeat()
    check = input_bound.InputBoundCheck(dataset, None, BATCH, num_batches=3, log=lines.append)
    tiny_fit_on = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    tiny_fit_on.compile(optimizer="sgd", loss="mse")
    tiny_fit_on.fit(dataset, epochs=2, steps_per_epoch=3, callbacks=[check], verbose=0)
    assert len(lines) == 1 and check.result is not None
    assert check.result["steps_measured"] == 4  # steps 2, 3, 5, 6: the first step of each epoch left out


@pytest.mark.parametrize(
    "pipeline, step, bound",
    [(0.010, 0.100, False), (0.095, 0.100, True), (0.300, 0.100, True)],
)
def test_verdict(pipeline, step, bound):
    result = input_bound.verdict(pipeline, step, 32)
    assert result["input_bound"] is bound
    assert result["step_examples_per_second"] == pytest.approx(320)
    line = input_bound.describe(result)
    assert line.strip().startswith("input-bound" if bound else "compute-bound")
    if not bound:
        assert "10.0x headroom" in line
