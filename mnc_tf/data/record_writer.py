# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Sharded TFRecord writing that leaves nothing behind unless it completes.

Shards are written to temporary names (`<final name>.tmp-<pid>`) and renamed
to `<prefix>-SSSSS-of-NNNNN.tfrecord` only by `commit()`; `abort()` (or an
exception inside the `with` block) deletes them.  Files written beside the
shards (the label map) go through `add_side_file` and follow the same rule.
"""

import json
import os

import tensorflow as tf


def shard_paths(output_prefix, num_shards):
  return ['%s-%05d-of-%05d.tfrecord' % (output_prefix, i, num_shards)
          for i in range(num_shards)]


def label_map_path(output_prefix):
  """Where the converters write the label map: `<prefix>.label_map.json`."""
  return output_prefix + '.label_map.json'


def write_label_map_file(path, id_to_name):
  """Writes {"id": "name", ...} JSON, ids sorted numerically."""
  with open(path, 'w') as f:
    json.dump({str(k): id_to_name[k] for k in sorted(id_to_name)}, f,
              indent=1)


def read_label_map(path):
  """Reads a label map JSON written by the converters: {int id: name}."""
  with open(path) as f:
    return {int(k): v for k, v in json.load(f).items()}


class ShardedRecordWriter(object):
  """Round-robin writer over `num_shards` TFRecord files, committed at once."""

  def __init__(self, output_prefix, num_shards):
    if num_shards < 1:
      raise ValueError('num_shards must be >= 1, got %d' % num_shards)
    directory = os.path.dirname(os.path.abspath(output_prefix))
    os.makedirs(directory, exist_ok=True)
    self.final_paths = shard_paths(output_prefix, num_shards)
    suffix = '.tmp-%d' % os.getpid()
    self._temp_paths = [p + suffix for p in self.final_paths]
    self._writers = [tf.io.TFRecordWriter(p) for p in self._temp_paths]
    self._side_files = []  # (temp path, final path)
    self._suffix = suffix
    self._count = 0
    self._closed = False

  def write(self, serialized_example):
    self._writers[self._count % len(self._writers)].write(serialized_example)
    self._count += 1

  @property
  def count(self):
    return self._count

  def add_side_file(self, final_path, write_fn):
    """Writes a file with `write_fn(temp_path)`; it is renamed on commit."""
    temp_path = final_path + self._suffix
    write_fn(temp_path)
    self._side_files.append((temp_path, final_path))

  def _close_writers(self):
    if not self._closed:
      for writer in self._writers:
        writer.close()
      self._closed = True

  def commit(self):
    self._close_writers()
    for temp, final in (list(zip(self._temp_paths, self.final_paths))
                        + self._side_files):
      os.replace(temp, final)

  def abort(self):
    self._close_writers()
    for temp in self._temp_paths + [t for t, _ in self._side_files]:
      if os.path.exists(temp):
        os.remove(temp)

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc, tb):
    if exc_type is not None:
      self.abort()
    return False
