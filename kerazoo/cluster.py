"""Several machines: which cluster this process belongs to, and its strategy.

A cluster is described by the environment, never by a recipe:

* TensorFlow: `TF_CONFIG` (also what Kubernetes operators set), or a SLURM
  job step with more than one task (TensorFlow's `SlurmClusterResolver`);
* JAX: Keras's `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
  `KERAS_DISTRIBUTION_NUM_PROCESSES` and `KERAS_DISTRIBUTION_PROCESS_ID`,
  read by `keras.distribution.initialize()`.

`MultiWorkerMirroredStrategy` must exist before TensorFlow initializes its
runtime, so the device probe creates it here, first, and the rest of the run
uses that one object.
"""

import json
import os

from kerazoo.errors import UsageError

_strategy = None


def describe(backend):
    """{"num_workers", "task_index", "source"} for a multi-process run, else None."""
    if backend == "jax":
        count = int(os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "1") or 1)
        if count > 1:
            index = int(os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "0"))
            return {"num_workers": count, "task_index": index, "source": "KERAS_DISTRIBUTION_*"}
        return None
    config = os.environ.get("TF_CONFIG")
    if config:
        return _from_tf_config(config)
    tasks = int(os.environ.get("SLURM_STEP_NUM_TASKS") or os.environ.get("SLURM_NTASKS") or 1)
    if os.environ.get("SLURM_JOB_ID") and tasks > 1:
        return {"num_workers": tasks, "task_index": int(os.environ.get("SLURM_PROCID", "0")), "source": "SLURM"}
    return None


def _from_tf_config(text):
    try:
        config = json.loads(text)
        cluster = config["cluster"]
        task = config["task"]
        chiefs = len(cluster.get("chief", []))
        workers = len(cluster.get("worker", []))
        if task["type"] == "chief":
            index = task["index"]
        elif task["type"] == "worker":
            index = chiefs + task["index"]
        else:
            raise ValueError(f"task type '{task['type']}' (kerazoo runs chief and worker tasks)")
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(
            f"TF_CONFIG is not a valid cluster description ({error}). Expected JSON such as "
            '{"cluster": {"worker": ["host1:2222", "host2:2222"]}, "task": {"type": "worker", "index": 0}}.'
        ) from None
    if chiefs + workers < 2:
        return None  # a one-task cluster is a single machine
    return {"num_workers": chiefs + workers, "task_index": index, "source": "TF_CONFIG"}


def start_tensorflow(description):
    """Create the MultiWorkerMirroredStrategy for `description` (once)."""
    global _strategy
    if _strategy is None:
        import tensorflow as tf

        if description["source"] == "SLURM":
            resolver = tf.distribute.cluster_resolver.SlurmClusterResolver()
        else:
            resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        _strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    return _strategy


def multi_worker_strategy(plan):
    """The strategy `start_tensorflow` created for this process."""
    if _strategy is None:
        raise UsageError("--strategy multi_worker needs TF_CONFIG or SLURM set before kerazoo starts.")
    return _strategy


def start_jax():
    """Join the JAX processes of a multi-process run (before any JAX work)."""
    import keras

    keras.distribution.initialize()
