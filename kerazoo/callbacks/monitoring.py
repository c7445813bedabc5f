"""Where the hardware's time and power go, per epoch, next to the loss.

`ResourceMonitor` adds figures to each epoch's logs, so every later
callback records them: TensorBoard as `epoch_<name>` scalars, and
`history.json`. On NVIDIA GPUs (through NVML, the `nvidia-ml-py` package,
imported as `pynvml`) a background thread samples each GPU about once a
second:

    gpu<i>_utilization_percent   mean share of time a kernel was running
    gpu<i>_memory_used_gib       most memory in use (all processes on the GPU)
    gpu<i>_power_watts           mean power draw
    gpu_energy_joules            energy of all GPUs over the epoch
    examples_per_joule           training examples of the epoch / that energy

Energy comes from NVML's energy counter (Volta and newer) and otherwise
from integrating the power samples. The epoch includes its validation pass,
so examples per joule is the cost of a whole epoch per training example.
On every machine it also logs the host's side:

    host_memory_used_gib         this process's resident memory at epoch end
    host_memory_percent          memory in use on the whole machine
    process_cpu_percent          this process's CPU use (100 = one core busy)

Without NVML (no NVIDIA driver, or the package missing) the GPU figures
are left out with a one-line note; monitoring never fails a run.
"""

import os
import threading
import time

import keras

GIB = 2**30


class ResourceMonitor(keras.callbacks.Callback):
    """Adds GPU utilization, memory, power and energy (NVML) and host memory
    and CPU figures to each epoch's logs.

    Place it before TensorBoard and the history writer (right after the
    throughput callback) so that they see its figures.

    Args:
        global_batch_size: examples per training step, for examples per joule.
        interval_seconds: how often the GPUs are sampled.
        log: a function of one line of text for notes (None: print).
        nvml: an NVML module to use instead of importing `pynvml` (tests
            pass a fake).
    """

    def __init__(self, global_batch_size, *, interval_seconds=1.0, log=None, nvml=None):
        super().__init__()
        self.global_batch_size = global_batch_size
        self.interval_seconds = interval_seconds
        self.log = log or print
        self.note = None
        self._nvml_module = nvml
        self._gpus = None  # GpuSampler, or None when NVML is not available
        self._host = HostSampler()
        self._steps = 0

    def on_train_begin(self, logs=None):
        previous = self.note
        self._gpus, self.note = open_gpus(self._nvml_module, self.interval_seconds)
        if self.note and self.note != previous:  # once per run, not per `fit`
            self.log(f"  monitoring: {self.note}")
        if self._gpus is not None:
            self._gpus.start()

    def on_epoch_begin(self, epoch, logs=None):
        self._steps = 0
        self._host.begin_epoch()
        if self._gpus is not None:
            self._gpus.begin_epoch()

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs.update(self._host.end_epoch())
        if self._gpus is not None:
            figures = self._gpus.end_epoch()
            energy = figures.get("gpu_energy_joules")
            if energy:
                figures["examples_per_joule"] = self._steps * self.global_batch_size / energy
            logs.update(figures)

    def on_train_end(self, logs=None):
        if self._gpus is not None:
            self._gpus.close()
            self._gpus = None


def open_gpus(nvml=None, interval_seconds=1.0, count=None):
    """Return (GpuSampler or None, a note or None) for the GPUs this process
    may use, or only the first `count` of them (`kerazoo benchmark` runs on
    the first). `nvml`: a module to use instead of `pynvml`."""
    if nvml is None:
        try:
            import pynvml as nvml
        except ImportError:
            return None, "GPU figures off: the nvidia-ml-py package (pynvml) is not installed"
    try:
        nvml.nvmlInit()
    except Exception as error:  # noqa: BLE001 - NVMLError subclasses differ by version
        return None, f"GPU figures off: NVML did not start ({_reason(error)}); no NVIDIA driver here?"
    try:
        handles = _visible_handles(nvml)
    except Exception as error:  # noqa: BLE001
        nvml.nvmlShutdown()
        return None, f"GPU figures off: NVML could not list the GPUs ({_reason(error)})"
    if not handles:
        nvml.nvmlShutdown()
        return None, "GPU figures off: NVML sees no GPU"
    return GpuSampler(nvml, handles[:count], interval_seconds), None


def _visible_handles(nvml):
    """Handles of the GPUs this process may use. NVML numbers every GPU of
    the machine; CUDA_VISIBLE_DEVICES (indices or UUIDs) narrows them."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return [nvml.nvmlDeviceGetHandleByIndex(index) for index in range(nvml.nvmlDeviceGetCount())]
    handles = []
    for item in (part.strip() for part in visible.split(",")):
        if not item:
            continue
        if item.isdigit():
            handles.append(nvml.nvmlDeviceGetHandleByIndex(int(item)))
        elif item.startswith(("GPU-", "MIG-")):
            handles.append(nvml.nvmlDeviceGetHandleByUUID(item))
        else:
            break  # CUDA ignores everything after an invalid entry
    return handles


def _reason(error):
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class GpuSampler:
    """Samples NVML in a daemon thread; summarizes each epoch."""

    def __init__(self, nvml, handles, interval_seconds):
        self.nvml = nvml
        self.handles = handles
        self.interval_seconds = interval_seconds
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._samples = []  # per GPU: list of (time, utilization %, memory bytes, power W)
        self._energy_start = [None] * len(handles)
        self._epoch_start = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="kerazoo-gpu-monitor", daemon=True)
        self._thread.start()

    def begin_epoch(self):
        with self._lock:
            self._samples = [[] for _ in self.handles]
            self._epoch_start = time.monotonic()
        self._energy_start = [self._energy_millijoules(handle) for handle in self.handles]
        self.sample()

    def end_epoch(self):
        self.sample()
        with self._lock:
            samples = [list(gpu) for gpu in self._samples]
        figures = {}
        total_energy = 0.0
        for index, (handle, gpu_samples) in enumerate(zip(self.handles, samples)):
            if gpu_samples:
                figures[f"gpu{index}_utilization_percent"] = _mean(s[1] for s in gpu_samples)
                figures[f"gpu{index}_memory_used_gib"] = max(s[2] for s in gpu_samples) / GIB
                figures[f"gpu{index}_power_watts"] = _mean(s[3] for s in gpu_samples)
            start, end = self._energy_start[index], self._energy_millijoules(handle)
            if start is not None and end is not None:
                total_energy += (end - start) / 1000.0
            else:
                total_energy += _integrate_power(gpu_samples)
        figures["gpu_energy_joules"] = total_energy
        return figures

    def sample(self):
        now = time.monotonic()
        readings = []
        for handle in self.handles:
            try:
                utilization = self.nvml.nvmlDeviceGetUtilizationRates(handle).gpu
                memory = self.nvml.nvmlDeviceGetMemoryInfo(handle).used
                power = self.nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0  # milliwatts
            except Exception:  # noqa: BLE001 - a missed sample is not worth failing a run
                readings.append(None)
                continue
            readings.append((now, float(utilization), int(memory), float(power)))
        with self._lock:
            if len(self._samples) != len(self.handles):
                return
            for gpu_samples, reading in zip(self._samples, readings):
                if reading is not None:
                    gpu_samples.append(reading)

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5 * self.interval_seconds)
        try:
            self.nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass

    def _run(self):
        while not self._stop.wait(self.interval_seconds):
            self.sample()

    def _energy_millijoules(self, handle):
        try:
            return float(self.nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
        except Exception:  # noqa: BLE001 - GPUs before Volta have no energy counter
            return None


def _integrate_power(samples):
    """Joules from (time, _, _, watts) samples by the trapezoidal rule."""
    energy = 0.0
    for (t0, _, _, p0), (t1, _, _, p1) in zip(samples, samples[1:]):
        energy += (t1 - t0) * (p0 + p1) / 2.0
    return energy


def _mean(values):
    values = list(values)
    return sum(values) / len(values) if values else 0.0


class HostSampler:
    """This process's memory and CPU use, through psutil when installed and
    /proc and os.times otherwise."""

    def __init__(self):
        try:
            import psutil
        except ImportError:
            psutil = None
        self._psutil = psutil
        self._process = psutil.Process() if psutil else None
        self._cpu_start = None

    def begin_epoch(self):
        self._cpu_start = (time.monotonic(), _cpu_seconds())

    def end_epoch(self):
        figures = {}
        if self._cpu_start is not None:
            wall0, cpu0 = self._cpu_start
            wall = time.monotonic() - wall0
            if wall > 0:
                figures["process_cpu_percent"] = 100.0 * (_cpu_seconds() - cpu0) / wall
        rss, percent = self._memory()
        if rss is not None:
            figures["host_memory_used_gib"] = rss / GIB
        if percent is not None:
            figures["host_memory_percent"] = percent
        return figures

    def _memory(self):
        if self._psutil is not None:
            return self._process.memory_info().rss, float(self._psutil.virtual_memory().percent)
        return _proc_rss(), _proc_memory_percent()


def _cpu_seconds():
    times = os.times()
    return times.user + times.system  # this process only (children are not counted)


def _proc_rss():
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _proc_memory_percent():
    try:
        with open("/proc/meminfo") as handle:
            fields = {line.split(":")[0]: int(line.split()[1]) for line in handle if ":" in line}
        return 100.0 * (1.0 - fields["MemAvailable"] / fields["MemTotal"])
    except (OSError, ValueError, KeyError, IndexError):
        return None
