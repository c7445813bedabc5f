"""TensorBoard as the user meets it: a real `tensorboard` server on a free
localhost port, pointed at a finished run directory, lists the run's
scalars, its HParams and its profile over the HTTP API the web page uses."""

import gzip
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from _helpers_runs import image_run

START_TIMEOUT = 120  # seconds for the server to answer and load the run


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(base, route, body=None):
    """GET (or POST a JSON body to) a TensorBoard route; returns parsed JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + route, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = response.read()
        if response.headers.get("Content-Encoding") == "gzip":  # the profile plugin gzips its answers
            payload = gzip.decompress(payload)
    return json.loads(payload)


def wait_for(condition, server, log, what):
    """Poll `condition()` until it returns a true value, the server dies or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT
    last_error = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"tensorboard exited with {server.returncode} before {what}:\n{log.read_text()[-3000:]}")
        try:
            value = condition()
            if value:
                return value
        except (urllib.error.URLError, ConnectionError, OSError, ValueError, KeyError) as error:
            last_error = error
        time.sleep(0.5)
    pytest.fail(f"timed out after {START_TIMEOUT} s waiting for {what} ({last_error}):\n{log.read_text()[-3000:]}")


@pytest.fixture
def tensorboard_server(tmp_path_factory, tmp_path):
    """(base URL, run) for a server over a finished run's tensorboard/ folder."""
    run = image_run(tmp_path_factory)
    port = free_port()
    log = tmp_path / "tensorboard.log"
    executable = Path(sys.executable).with_name("tensorboard")
    with open(log, "w") as handle:
        server = subprocess.Popen(
            [str(executable), "--logdir", str(run.directory / "tensorboard"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=handle, stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: fetch(base, "/data/plugins_listing"), server, log, "the server to answer")
        yield base, run, server, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


def test_tensorboard_lists_scalars_hparams_and_the_profile(tensorboard_server):
    base, run, server, log = tensorboard_server

    # Scalars, once the server has read the event files.
    def scalar_tags():
        tags = fetch(base, "/data/plugin/scalars/tags")
        return tags if {"train", "validation"} <= set(tags) and "epoch_loss" in tags["train"] else None

    tags = wait_for(scalar_tags, server, log, "the scalars")
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "batch_loss"} <= set(tags["train"]), tags["train"]
    assert {"epoch_loss", "epoch_accuracy"} <= set(tags["validation"]), tags["validation"]
    assert {"train", "validation"} <= set(fetch(base, "/data/runs"))

    # HParams: the resolved recipe and the plan's choices.
    experiment = wait_for(
        lambda: fetch(base, "/data/plugin/hparams/experiment", body={"experimentName": ""}).get("hparamInfos"),
        server, log, "the HParams",
    )
    names = {info["name"] for info in experiment}
    assert {"train.learning_rate", "model.args.depth", "plan.precision", "plan.global_batch_size"} <= names, sorted(names)

    # Profile: the trace of the profile window, as a run of the profile plugin.
    profile_runs = wait_for(lambda: fetch(base, "/data/plugin/profile/runs"), server, log, "the profile runs")
    assert any(name.startswith("train/") for name in profile_runs), profile_runs

    plugins = fetch(base, "/data/plugins_listing")
    for plugin in ("scalars", "hparams", "profile"):
        assert plugins[plugin]["enabled"], (plugin, plugins[plugin])
