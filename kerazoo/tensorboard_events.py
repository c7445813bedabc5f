"""Cut TensorBoard event files back to a resumed run's position.

Summaries written after the backup a run resumes from would otherwise
appear twice. Before resuming, each event file under the run's TensorBoard
folder is rewritten without the events past that point: epoch summaries
(`epoch_*`, stepped by epoch) from the resumed epoch on, and step summaries
(stepped by global step) after the resumed step.
"""

import os
import pathlib


def truncate(log_dir, epoch, global_step):
    """Drop events at or after `epoch` (epoch_*) or after `global_step` (others).

    Returns the number of events dropped.
    """
    import tensorflow as tf
    from tensorboard.compat.proto import event_pb2

    total = 0
    for path in sorted(pathlib.Path(log_dir).rglob("events.out.tfevents.*")):
        kept, dropped = [], 0
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            if _after(event, epoch, global_step):
                dropped += 1
            else:
                kept.append(record.numpy())
        total += dropped
        if dropped:
            partial = path.with_name(f".partial-{path.name}")
            with tf.io.TFRecordWriter(str(partial)) as writer:
                for record in kept:
                    writer.write(record)
            os.replace(partial, path)
    return total


def _after(event, epoch, global_step):
    tags = [value.tag for value in event.summary.value]
    if not tags:
        return False  # file version and other bookkeeping
    if all(tag.startswith("epoch_") for tag in tags):
        return event.step >= epoch
    return event.step > global_step
