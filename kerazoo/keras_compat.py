"""Work-arounds for Keras 3.15 under tf.distribute, each with its cause.

1. `fit` under MultiWorkerMirroredStrategy fails with "ValueError: Attempt to
   convert a value (PerReplica...) ... to a Tensor" (keras-team/keras#20585,
   tensorflow/tensorflow#72388). Cause: before training, Keras's TF trainer
   (`_maybe_symbolic_build`) pulls the first *distributed* batch and calls
   `strategy.reduce("MEAN", batch, axis=None)` on the input data just to
   learn its shapes; the collective strategy cannot reduce that PerReplica
   input. The same call also spends one batch of the input under any
   strategy. Building the model, loss, metrics and optimizer beforehand from
   zeros shaped like the dataset's `element_spec` avoids both; building the
   model itself earlier is not enough.
2. The next failure under MultiWorkerMirroredStrategy: each step's logs
   (scalars) are reduced with `strategy.reduce("MEAN", value, axis=0)`,
   which is invalid for 0-d values ("Invalid reduction dimension 0 for input
   with 0 dimensions"). Scalars are reduced with `axis=None` instead.

`tests/test_distributed.py` trains two workers on localhost with these in
place and checks the loss against a single-replica run.
"""

import contextlib


def build_before_fit(model, element_spec, batch_size, strategy=None):
    """Build everything `fit` would build, from the shapes in `element_spec`.

    Also the prerequisite for restoring a backup: optimizer slots and metric
    accumulators must exist before values can be assigned to them. Works on
    every backend; on TensorFlow it replaces the strategy-unsafe pre-build.
    Every input gets `batch_size` as its leading dimension (some pipelines
    leave it unknown, and JAX cannot compare an unknown size with a known one).
    """
    import keras

    def symbolic(spec):
        shape = list(spec.shape)
        shape[0] = batch_size
        return keras.KerasTensor(tuple(dim or 1 for dim in shape), dtype=spec.dtype.name)

    batch = keras.tree.map_structure(symbolic, element_spec)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model._symbolic_build(data_batch=batch)  # Keras's own builder, fed our shapes
    # Everything is built now; Keras's version would still reduce a real batch.
    model._maybe_symbolic_build = _nothing_left_to_build


def _nothing_left_to_build(iterator=None, data_batch=None):
    return None


_patched = False


def patch_multi_worker_log_reduction():
    """Make Keras reduce scalar step logs with axis=None across workers (2. above)."""
    global _patched
    if _patched:
        return
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction != "auto" or not tf_trainer._collective_all_reduce_multi_worker(strategy):
            return original(values, strategy, reduction)

        def reduce_one(value):
            if _rank(value) == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return original(value, strategy, reduction)

        return tf.nest.map_structure(reduce_one, values)

    tf_trainer.reduce_per_replica = reduce_per_replica
    _patched = True


def _rank(value):
    import tensorflow as tf

    if isinstance(value, tf.distribute.DistributedValues):
        value = value.values[0]
    shape = getattr(value, "shape", None)
    return None if shape is None else shape.rank
