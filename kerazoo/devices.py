"""What this process can run on: the one place that probes the hardware.

`probe()` is called once per run, before the plan; everything after the plan
reads the plan and never probes again. A `DeviceInfo` can also be built by
hand, which is how tests describe GPUs this machine does not have.
"""

import contextlib
import dataclasses
import os
import sys
import tempfile
from typing import Optional

from kerazoo.errors import UsageError


@dataclasses.dataclass(frozen=True)
class Accelerator:
    """One GPU or TPU core as the backend reports it."""

    kind: str  # "GPU" or "TPU"
    name: str
    compute_capability: Optional[tuple] = None  # (major, minor) on NVIDIA GPUs

    def describe(self):
        cc = self.compute_capability
        return f"{self.kind} {self.name}" + (f" (compute capability {cc[0]}.{cc[1]})" if cc else "")


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """The backend and devices of this process."""

    backend: str
    accelerators: tuple = ()
    cpu_replicas: int = 1
    cpu_count: int = 1
    versions: dict = dataclasses.field(default_factory=dict)
    # Filled for multi-worker runs: {"num_workers", "task_index", "source"}.
    cluster: Optional[dict] = None

    @property
    def gpus(self):
        return [a for a in self.accelerators if a.kind == "GPU"]

    @property
    def tpus(self):
        return [a for a in self.accelerators if a.kind == "TPU"]

    def to_dict(self):
        return {
            "backend": self.backend,
            "accelerators": [
                {"kind": a.kind, "name": a.name, "compute_capability": _cc_text(a.compute_capability)}
                for a in self.accelerators
            ],
            "cpu_replicas": self.cpu_replicas,
            "cpu_count": self.cpu_count,
            "versions": dict(self.versions),
            "cluster": self.cluster,
        }


def _cc_text(cc):
    return f"{cc[0]}.{cc[1]}" if cc else None


@contextlib.contextmanager
def quiet_native_stderr():
    """Hold back what native code prints to stderr while TensorFlow starts.

    TensorFlow 2.21 writes oneDNN and CUDA notices through absl before
    TF_CPP_MIN_LOG_LEVEL applies. They are replayed if starting fails, and
    always shown with KERAZOO_NATIVE_LOGS=1.
    """
    if os.environ.get("KERAZOO_NATIVE_LOGS") == "1":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some notebook front ends)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow():
    """Import TensorFlow (for tf.data) without its start-up chatter; None if absent."""
    with quiet_native_stderr():
        try:
            import tensorflow as tf
        except ImportError:
            return None
    return tf


def prepare_environment(cpu_replicas=None):
    """Settings that must be in place before TensorFlow, JAX or Keras start.

    Quiets TensorFlow's C++ start-up chatter unless the user chose a level,
    and asks JAX for `cpu_replicas` host devices.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if cpu_replicas and cpu_replicas > 1 and os.environ.get("KERAS_BACKEND") == "jax":
        flag = f"--xla_force_host_platform_device_count={cpu_replicas}"
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {flag}".strip()


def probe(cpu_replicas=None):
    """Describe the devices of this process, configuring CPU replicas first.

    Args:
        cpu_replicas: split the CPU into this many logical devices so that
            multi-replica training can run on a machine with no GPU.
    """
    if cpu_replicas is not None and cpu_replicas < 1:
        raise UsageError(f"--cpu-replicas must be 1 or more, got {cpu_replicas}.")
    prepare_environment(cpu_replicas)
    with quiet_native_stderr():
        import keras

    backend = keras.config.backend()
    versions = {"kerazoo": _kerazoo_version(), "keras": keras.__version__}
    if backend == "tensorflow":
        return _probe_tensorflow(cpu_replicas, versions)
    if backend == "jax":
        return _probe_jax(cpu_replicas, versions)
    if backend == "torch":
        return _probe_torch(cpu_replicas, versions)
    raise UsageError(
        f"The Keras backend '{backend}' is not supported by kerazoo. "
        "Set KERAS_BACKEND to tensorflow, jax or torch."
    )


def _kerazoo_version():
    from kerazoo import __version__

    return __version__


def _probe_tensorflow(cpu_replicas, versions):
    from kerazoo import cluster

    with quiet_native_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()  # initializes CUDA: more native chatter

    versions["tensorflow"] = tf.__version__
    build = tf.sysconfig.get_build_info()
    versions["cuda_build"] = build.get("cuda_version")
    versions["cudnn_build"] = build.get("cudnn_version")
    if cpu_replicas and cpu_replicas > 1:
        _configure_tf_cpu_replicas(tf, cpu_replicas)
    description = cluster.describe("tensorflow")
    if description:
        cluster.start_tensorflow(description)  # before the runtime starts
    accelerators = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        accelerators.append(
            Accelerator("GPU", details.get("device_name", gpu.name), details.get("compute_capability"))
        )
    for tpu in tf.config.list_physical_devices("TPU"):
        accelerators.append(Accelerator("TPU", tpu.name))
    replicas = len(tf.config.list_logical_devices("CPU"))
    return DeviceInfo("tensorflow", tuple(accelerators), replicas, os.cpu_count() or 1, versions, description)


def _configure_tf_cpu_replicas(tf, count):
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        # TensorFlow already started (a notebook that trained before).
        current = len(tf.config.list_logical_devices("CPU"))
        if current != count:
            raise UsageError(
                f"Cannot split the CPU into {count} replicas: TensorFlow already started "
                f"in this process with {current}. Restart the Python process (or kernel) "
                f"and ask for cpu_replicas={count} before training anything."
            ) from None


def _probe_jax(cpu_replicas, versions):
    from kerazoo import cluster

    if cluster.describe("jax"):
        cluster.start_jax()  # before any JAX computation
    import jax

    versions["jax"] = jax.__version__
    accelerators = []
    for device in jax.devices():
        if device.platform == "gpu":
            cc = getattr(device, "compute_capability", None)
            cc = tuple(int(part) for part in str(cc).split(".")) if cc else None
            accelerators.append(Accelerator("GPU", device.device_kind, cc))
        elif device.platform == "tpu":
            accelerators.append(Accelerator("TPU", device.device_kind))
    replicas = len(jax.local_devices(backend="cpu")) if not accelerators else 1
    if cpu_replicas and cpu_replicas > 1 and replicas != cpu_replicas:
        raise UsageError(
            f"JAX started with {replicas} CPU device(s), not {cpu_replicas}. Set "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={cpu_replicas} before starting Python."
        )
    info = DeviceInfo("jax", tuple(accelerators), replicas, os.cpu_count() or 1, versions)
    if jax.process_count() > 1:
        info = dataclasses.replace(
            info,
            cluster={"num_workers": jax.process_count(), "task_index": jax.process_index(), "source": "jax"},
        )
    return info


def _probe_torch(cpu_replicas, versions):
    import torch

    versions["torch"] = torch.__version__
    versions["cuda_build"] = torch.version.cuda
    accelerators = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            accelerators.append(
                Accelerator("GPU", torch.cuda.get_device_name(index), torch.cuda.get_device_capability(index))
            )
    if cpu_replicas and cpu_replicas > 1:
        raise UsageError("--cpu-replicas needs the tensorflow or jax backend; the torch backend trains on one device.")
    return DeviceInfo("torch", tuple(accelerators), 1, os.cpu_count() or 1, versions)
