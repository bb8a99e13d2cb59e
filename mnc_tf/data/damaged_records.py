# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Reads TFRecord files past damaged records, counting them.

With `DataConfig.skip_damaged_records` the input pipeline reads each file
with `read_file_skipping_damage` instead of a plain `TFRecordDataset`. A
record whose length or checksum is wrong (a cut-off or overwritten file)
ends TensorFlow's read of that file: the records before it are used, the
rest of the file is not (a TFRecord reader cannot find the next record
boundary after a broken one). Each such break counts as one damaged record.

The count travels with the data: `count_damaged` turns the per-file stream
of `(record, is_end, damaged)` into `(record, damaged_so_far)` elements, the
running count of damaged records this input pipeline has met, which the task
reports as the `damaged_records_skipped` training metric. The pipeline
repeats the file list before counting, so the count covers the whole run:
a damaged file is met, and counted, once per epoch (once in all with
`cache`, which reads the files once).
"""
import tensorflow as tf

# TFRecord framing around each record: length (8), its CRC (4), data CRC (4).
_FRAMING_BYTES = 16


def file_sizes(files):
  """int64 sizes in bytes of `files` (read when the pipeline is built)."""
  return tf.constant([tf.io.gfile.stat(path).length for path in files],
                     tf.int64)


def read_file_skipping_damage(path, size, buffer_size=8 << 20):
  """One TFRecord file's records, stopping quietly at a damaged one.

  Args:
    path: string scalar tensor, the file.
    size: int64 scalar tensor, its size in bytes when the pipeline was built.
    buffer_size: read buffer of the `TFRecordDataset`.

  Returns:
    A dataset of `(record string, is_end bool, damaged bool)`: the records
    read, then one end marker (`is_end`, empty record) whose `damaged` is
    True when the read stopped before the end of the file.
  """
  records = tf.data.TFRecordDataset(path, buffer_size=buffer_size)
  records = records.ignore_errors().map(lambda r: (r, tf.constant(False)))
  end = tf.data.Dataset.from_tensors((tf.constant(b''), tf.constant(True)))

  def account(consumed, element):
    record, is_end = element
    damaged = tf.logical_and(is_end, consumed < size)
    consumed += tf.cast(tf.strings.length(record), tf.int64) + _FRAMING_BYTES
    return consumed, (record, is_end, damaged)
  return records.concatenate(end).scan(tf.constant(0, tf.int64), account)


def count_damaged(dataset):
  """`(record, is_end, damaged)` -> `(record, int64 damaged records so far)`.

  The end markers are dropped after they are counted.
  """
  def accumulate(count, element):
    record, is_end, damaged = element
    count += tf.cast(damaged, tf.int64)
    return count, (record, count, is_end)
  dataset = dataset.scan(tf.constant(0, tf.int64), accumulate)
  dataset = dataset.filter(lambda record, count, is_end: tf.logical_not(
      is_end))
  return dataset.map(lambda record, count, is_end: (record, count))
