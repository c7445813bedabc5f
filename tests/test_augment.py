"""kerazoo's RandAugment: Keras's, computing only the operations it draws.

Keras's layer applies all 11 of its operations to every batch and keeps
the drawn one with `where`; kerazoo's runs the drawn branch alone in a
TensorFlow graph. The result must be Keras's, draw for draw, on either
backend (the tf.data pipeline is TensorFlow under JAX too). Its speed is
measured in benchmarks/input_pipeline.py, not here."""

import subprocess
import sys
import textwrap

from conftest import kerazoo_env

# Batches of 16x16 images through both layers (same seed) in tf.data and in
# a tf.function, as the pipeline and a TensorFlow training step run them;
# prints the largest difference and how much the images changed.
SAME_AS_KERAS = textwrap.dedent(
    """
    import sys
    import keras, numpy as np, tensorflow as tf
    from kerazoo import augment

    num_ops = int(sys.argv[1])

    images = np.random.default_rng(0).uniform(0, 255, (8, 16, 16, 3)).astype("float32")

    def pair():
        settings = dict(value_range=(0, 255), num_ops=num_ops, factor=0.9, seed=3)
        return augment.RandAugment(**settings), keras.layers.RandAugment(**settings)

    ours, theirs = pair()
    outputs = [
        [batch.numpy() for batch in tf.data.Dataset.from_tensors(images).repeat(12).map(lambda x: layer(x, training=True))]
        for layer in (ours, theirs)
    ]
    difference = max(float(np.abs(a - b).max()) for a, b in zip(*outputs))
    changed = float(np.mean([np.abs(a - images).mean() for a in outputs[0]]))
    if keras.config.backend() == "tensorflow":
        ours, theirs = pair()
        step = [tf.function(lambda x, layer=layer: layer(x, training=True)) for layer in (ours, theirs)]
        for _ in range(6):
            difference = max(difference, float(np.abs(step[0](images) - step[1](images)).max()))
    print(type(ours).__name__, isinstance(ours, keras.layers.RandAugment), difference, changed)
    """
)


def check_same_as_keras(backend, num_ops):
    result = subprocess.run([sys.executable, "-c", SAME_AS_KERAS, str(num_ops)], env=kerazoo_env(KERAS_BACKEND=backend),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    name, is_keras_layer, difference, changed = result.stdout.split()
    assert name == "RandAugment" and is_keras_layer == "True"
    assert float(difference) == 0.0
    assert float(changed) > 1.0  # it did augment: 12 batches


def test_same_result_as_keras_randaugment_on_tensorflow():
    check_same_as_keras("tensorflow", num_ops=2)


def test_same_result_as_keras_randaugment_in_tf_data_under_jax():
    # One operation: under JAX, tracing the layers in tf.data takes about
    # tens of seconds per operation (Keras's own cost, once per pipeline).
    check_same_as_keras("jax", num_ops=1)


def test_runs_only_the_drawn_branches_in_a_graph():
    """The graph holds one `Case` per drawn operation (2 here), not 22
    transforms joined by `where`."""
    import keras
    import tensorflow as tf

    from kerazoo import augment

    layer = augment.RandAugment(value_range=(0, 255), num_ops=2, factor=0.5, seed=0)
    graph = tf.function(lambda x: layer(x, training=True)).get_concrete_function(
        tf.TensorSpec((4, 16, 16, 3), tf.float32)).graph
    cases = [op for op in graph.get_operations() if op.type in ("Case", "StatelessCase")]
    assert len(cases) == 2
    # Outside a TensorFlow graph it is Keras's layer unchanged (eager here).
    images = keras.ops.ones((2, 16, 16, 3)) * 100.0
    assert keras.ops.convert_to_numpy(layer(images, training=False)).tolist() == keras.ops.convert_to_numpy(images).tolist()
    assert tuple(layer(images, training=True).shape) == (2, 16, 16, 3)
