"""Scale-out on one machine with no GPU: every engine kerazoo uses gives the
loss of a single-replica run with the same global batch and seed.

The model is BERT-tiny without dropout (LayerNorm only: no BatchNorm whose
statistics would differ per replica), in float32.
"""

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import make_csv, read_json, run_kerazoo

SMALL = ["--set", "data.sequence_length=32", "--set", "model.args.num_layers=1", "--set", "data.vocabulary_size=300",
         "--set", "model.dropout=0", "--set", "model.args.dropout=0"]
GLOBAL_BATCH = 8


def args(csv, run_dir, batch_size=GLOBAL_BATCH, *extra):
    return ["train", "bert_tiny", "--data", csv, "--epochs", "1", "--steps-per-epoch", "4", "--batch-size",
            str(batch_size), "--precision", "float32", "--no-profile", "--run-dir", run_dir, *SMALL, *extra]


def first_loss(run_dir):
    return read_json(os.path.join(run_dir, "history.json"))[0]["loss"]


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def env(**extra):
    out = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    out.pop("TF_CONFIG", None)
    out.update(extra)
    return out


def run_processes(commands_and_envs, timeout=600):
    executable = os.path.join(os.path.dirname(sys.executable), "kerazoo")
    processes = [
        subprocess.Popen([executable, *map(str, command)], env=environment, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for command, environment in commands_and_envs
    ]
    results = []
    for process in processes:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        finally:
            process.kill()
        assert process.returncode == 0, stdout + stderr
        results.append(stdout)
    return results


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    # 163 rows: a validation split of 33, not whole global batches of 8.
    return make_csv(tmp_path_factory.mktemp("data") / "reviews.csv", count=163)


@pytest.fixture(scope="module")
def tensorflow_single(csv, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("tf") / "single"
    result = run_kerazoo(*args(csv, run_dir), env=env())
    assert result.returncode == 0, result.stderr
    return first_loss(run_dir)


@pytest.fixture(scope="module")
def jax_single(csv, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("jax") / "single"
    result = run_kerazoo(*args(csv, run_dir), env=env(KERAS_BACKEND="jax"))
    assert result.returncode == 0, result.stderr
    return first_loss(run_dir)


def test_mirrored_strategy_on_two_cpu_replicas(csv, tmp_path, tensorflow_single):
    run_dir = tmp_path / "mirrored"
    result = run_kerazoo(*args(csv, run_dir, GLOBAL_BATCH // 2, "--cpu-replicas", "2"), env=env())
    assert result.returncode == 0, result.stderr
    plan = read_json(run_dir / "plan.json")
    assert (plan["strategy"], plan["num_replicas"], plan["global_batch_size"]) == ("mirrored", 2, GLOBAL_BATCH)
    assert first_loss(run_dir) == pytest.approx(tensorflow_single, rel=1e-4)


def test_two_tensorflow_workers_with_tf_config(csv, tmp_path, tensorflow_single):
    run_dir = tmp_path / "multi_worker"
    hosts = [f"localhost:{port}" for port in free_ports(2)]
    jobs = []
    for index in range(2):
        config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        jobs.append((args(csv, run_dir, GLOBAL_BATCH // 2), env(TF_CONFIG=json.dumps(config), TMPDIR=str(tmp_path))))
    run_processes(jobs)
    plan = read_json(run_dir / "plan.json")
    assert (plan["strategy"], plan["num_workers"], plan["num_replicas"]) == ("multi_worker", 2, 2)
    assert plan["global_batch_size"] == GLOBAL_BATCH
    assert first_loss(run_dir) == pytest.approx(tensorflow_single, rel=1e-4)
    # Only the chief wrote the run; the other worker's scratch folder is gone.
    assert not list(tmp_path.glob("kerazoo-worker-*"))
    assert read_json(run_dir / "status.json")["state"] == "finished"


def test_jax_data_parallel_on_two_host_devices(csv, tmp_path, jax_single):
    run_dir = tmp_path / "data_parallel"
    result = run_kerazoo(*args(csv, run_dir, GLOBAL_BATCH // 2, "--cpu-replicas", "2"), env=env(KERAS_BACKEND="jax"))
    assert result.returncode == 0, result.stderr
    # A last validation batch of 1 cannot be split over 2 devices.
    assert "validation: the last 1 of 33 examples left out" in result.stdout
    plan = read_json(run_dir / "plan.json")
    assert (plan["backend"], plan["strategy"], plan["num_replicas"]) == ("jax", "data_parallel", 2)
    assert first_loss(run_dir) == pytest.approx(jax_single, rel=1e-4)


def test_two_jax_processes(csv, tmp_path, jax_single):
    run_dir = tmp_path / "jax_processes"
    addresses = ",".join(f"localhost:{port}" for port in free_ports(2))
    jobs = [
        (args(csv, run_dir, GLOBAL_BATCH // 2), env(
            KERAS_BACKEND="jax", KERAS_DISTRIBUTION_JOB_ADDRESSES=addresses, KERAS_DISTRIBUTION_NUM_PROCESSES="2",
            KERAS_DISTRIBUTION_PROCESS_ID=str(index), TMPDIR=str(tmp_path),
        ))
        for index in range(2)
    ]
    # A partial last validation batch would leave one process waiting forever.
    outputs = run_processes(jobs, timeout=300)
    assert all("validation: the last 1 of 33 examples left out" in output for output in outputs)
    plan = read_json(run_dir / "plan.json")
    assert (plan["strategy"], plan["num_workers"], plan["global_batch_size"]) == ("data_parallel", 2, GLOBAL_BATCH)
    assert first_loss(run_dir) == pytest.approx(jax_single, rel=1e-4)
    assert not list(tmp_path.glob("kerazoo-worker-*"))


def test_jax_validation_is_cut_to_batches_every_device_can_share():
    import types

    import numpy as np

    from kerazoo.data import _shardable_validation
    from kerazoo.data.examples import Examples
    from kerazoo.errors import UsageError

    texts = Examples([f"text {i}" for i in range(19)], np.arange(19, dtype=np.int32) % 2, "texts")
    processes = types.SimpleNamespace(num_workers=2, num_replicas=2, global_batch_size=8)
    notes = []
    assert _shardable_validation(texts, processes, notes).inputs == texts.inputs[:16]
    assert notes == ["validation: the last 3 of 19 examples left out, so each of the 2 JAX processes evaluates "
                     "whole global batches of 8"]
    notes = []
    assert _shardable_validation(texts.first(16), processes, notes).inputs == texts.inputs[:16] and notes == []
    devices = types.SimpleNamespace(num_workers=1, num_replicas=4, global_batch_size=8)
    assert len(_shardable_validation(texts, devices, notes)) == 16 and "evenly over the 4 devices" in notes[0]
    with pytest.raises(UsageError, match="fewer than 32.*--batch-size of at most 19"):
        _shardable_validation(texts, types.SimpleNamespace(num_workers=2, num_replicas=2, global_batch_size=32), [])


def test_cluster_descriptions(monkeypatch):
    from kerazoo import cluster
    from kerazoo.errors import UsageError

    for name in ("TF_CONFIG", "SLURM_JOB_ID", "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    assert cluster.describe("tensorflow") is None
    monkeypatch.setenv("TF_CONFIG", json.dumps({
        "cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "task": {"type": "worker", "index": 1}}))
    assert cluster.describe("tensorflow") == {"num_workers": 3, "task_index": 2, "source": "TF_CONFIG"}
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(UsageError, match="TF_CONFIG is not a valid cluster description"):
        cluster.describe("tensorflow")
    monkeypatch.delenv("TF_CONFIG")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert cluster.describe("tensorflow") == {"num_workers": 4, "task_index": 3, "source": "SLURM"}


def test_plan_for_a_cluster():
    from kerazoo import recipes
    from kerazoo.devices import Accelerator, DeviceInfo
    from kerazoo.plan import make_plan

    gpus = tuple(Accelerator("GPU", "H100", (9, 0)) for _ in range(8))
    info = DeviceInfo("tensorflow", gpus, cluster={"num_workers": 4, "task_index": 1, "source": "TF_CONFIG"})
    plan = make_plan(recipes.get("resnet50"), info)
    assert (plan.strategy, plan.num_replicas, plan.global_batch_size) == ("multi_worker", 32, 2048)
    assert plan.is_chief is False and plan.xla is False
    assert plan.learning_rate == pytest.approx(0.1 * 2048 / 256)
    torch_plan = make_plan(recipes.get("resnet50"), DeviceInfo("torch", gpus))
    assert torch_plan.strategy == "default" and "single device" in torch_plan.reasons["strategy"]
