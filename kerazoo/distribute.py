"""Turn the plan's strategy into the backend's distribution object.

TensorFlow: `MirroredStrategy` (one machine), `MultiWorkerMirroredStrategy`
(several), or the default strategy. JAX: `keras.distribution.DataParallel`.
Nothing here probes devices: the plan already names them.
"""

import contextlib


class Distribution:
    """What the trainer needs from a strategy: a scope to build in."""

    def __init__(self, plan):
        self.plan = plan
        self.strategy = None
        backend = plan.backend
        if backend == "tensorflow":
            self.strategy = _tensorflow_strategy(plan)
        elif backend == "jax" and plan.strategy == "data_parallel":
            import keras

            devices = _jax_devices(plan)
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def close(self):
        if self.plan.backend == "jax" and self.plan.strategy == "data_parallel":
            import keras

            keras.distribution.set_distribution(None)


def _tensorflow_strategy(plan):
    import tensorflow as tf

    if plan.strategy == "mirrored":
        return tf.distribute.MirroredStrategy(devices=list(plan.devices))
    if plan.strategy == "multi_worker":
        from kerazoo import cluster

        return cluster.multi_worker_strategy(plan)
    if plan.strategy == "default" and len(plan.devices) == 1 and plan.devices[0].startswith("/gpu"):
        return tf.distribute.OneDeviceStrategy(plan.devices[0])
    return tf.distribute.get_strategy()


def _jax_devices(plan):
    import jax

    platform = "gpu" if plan.devices[0].startswith("/gpu") else "cpu"
    return jax.devices(platform) if jax.process_count() > 1 else jax.local_devices(backend=platform)
