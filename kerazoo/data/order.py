"""The order in which training examples are seen: a pure function of the
seed and the global step.

Each pass over the data is a permutation drawn from (seed, pass number) and
cut to whole global batches, so batch k of the run is always the same
examples. A run resumed at step k starts the stream at k directly: skipped
batches are never decoded or replayed.
"""

import numpy as np


def batch_indices(num_examples, batch_size, seed, start_step=0):
    """Yield the example indices of every training step from `start_step` on.

    Args:
        num_examples: size of the training split.
        batch_size: the global batch size.
        seed: the run's seed.
        start_step: the global step (0-based) to start at.

    Yields:
        int64 arrays of `batch_size` indices, forever.
    """
    steps_per_pass = num_examples // batch_size
    if steps_per_pass < 1:
        raise ValueError(f"{num_examples} examples cannot fill one batch of {batch_size}")
    pass_index, within = divmod(int(start_step), steps_per_pass)
    while True:
        permutation = np.random.default_rng([int(seed), pass_index]).permutation(num_examples)
        for step in range(within, steps_per_pass):
            yield permutation[step * batch_size:(step + 1) * batch_size]
        pass_index, within = pass_index + 1, 0
