# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Sharded TFRecord writing that leaves nothing behind unless it completes.

Shards are written to temporary names (`<final name>.tmp-<pid>`, see
`mnc_tf.utils.atomic_io`) and renamed to `<prefix>-SSSSS-of-NNNNN.tfrecord`
only by `commit()`; `abort()` (or an exception inside the `with` block)
deletes them. Files written beside the shards (the label map, the summary)
go through `add_side_file` and follow the same rule. Before writing, the
temporaries that a killed run left for the same outputs are removed, and
shards of the same prefix with another shard count are refused (their glob,
`<prefix>-*.tfrecord`, would read both sets) unless `overwrite` is set, in
which case `commit()` deletes them.
"""

import json
import os
import re

import tensorflow as tf

from mnc_tf.utils import atomic_io


class OutputError(ValueError):
  """The output prefix cannot be written; the message says why and the fix."""


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


def _shard_name_pattern(output_prefix):
  """Regular expression of the shard names of `output_prefix`, any count."""
  return (re.escape(os.path.basename(output_prefix))
          + r'-\d{5}-of-\d{5}\.tfrecord')


def existing_shards(output_prefix):
  """Shard files `<prefix>-SSSSS-of-NNNNN.tfrecord` already on disk, sorted."""
  directory = os.path.dirname(os.path.abspath(output_prefix))
  if not os.path.isdir(directory):
    return []
  pattern = re.compile(_shard_name_pattern(output_prefix) + '$')
  return sorted(os.path.join(os.path.dirname(output_prefix), name)
                for name in os.listdir(directory) if pattern.match(name))


def _check_output_directory(output_prefix):
  """Creates the prefix' directory; one-line OutputError when it cannot.

  Returns:
    the directories created, deepest first (removed again on abort).
  """
  directory = os.path.dirname(os.path.abspath(output_prefix))
  probe = directory
  created = []
  while probe and not os.path.exists(probe):
    created.append(probe)
    probe = os.path.dirname(probe)
  if probe and not os.path.isdir(probe):
    raise OutputError(
        '--output_prefix=%s: %s is a file, not a directory; choose an output '
        'prefix in a directory' % (output_prefix, probe))
  try:
    os.makedirs(directory, exist_ok=True)
  except OSError as e:
    raise OutputError('--output_prefix=%s: cannot create directory %s (%s); '
                      'choose a writable location'
                      % (output_prefix, directory, e.strerror)) from None
  if not os.access(directory, os.W_OK | os.X_OK):
    raise OutputError('--output_prefix=%s: directory %s is not writable; '
                      'choose a writable location or fix its permissions'
                      % (output_prefix, directory))
  return created


class ShardedRecordWriter(object):
  """Round-robin writer over `num_shards` TFRecord files, committed at once."""

  def __init__(self, output_prefix, num_shards, overwrite=False):
    """Opens the temporary shards.

    Args:
      output_prefix: shards go to `<prefix>-SSSSS-of-NNNNN.tfrecord`.
      num_shards: number of shards (>= 1).
      overwrite: allow (and, on commit, delete) shards of this prefix with
        another shard count.

    Raises:
      ValueError: `num_shards` < 1.
      OutputError: the directory cannot be written, or stale shards of
        another shard count exist and `overwrite` is off.
    """
    if num_shards < 1:
      raise ValueError('num_shards must be >= 1, got %d' % num_shards)
    self._created_directories = _check_output_directory(output_prefix)
    self.final_paths = shard_paths(output_prefix, num_shards)
    self._stale_shards = [p for p in existing_shards(output_prefix)
                          if p not in self.final_paths]
    if self._stale_shards and not overwrite:
      raise OutputError(
          '--output_prefix=%s: %d shard(s) of another --num_shards exist '
          '(e.g. %s), and the glob %s-*.tfrecord would read both sets; pass '
          '--overwrite to delete them, or choose another prefix'
          % (output_prefix, len(self._stale_shards),
             os.path.basename(self._stale_shards[0]), output_prefix))
    # A killed run's shards, whatever its --num_shards.
    atomic_io.remove_stale_temporaries(output_prefix,
                                       _shard_name_pattern(output_prefix))
    self._temp_paths = [atomic_io.temp_path(p) for p in self.final_paths]
    self._side_files = []  # (temp path, final path)
    self._count = 0
    self._closed = False
    self._writers = []
    try:
      for path in self._temp_paths:
        self._writers.append(tf.io.TFRecordWriter(path))
    except (tf.errors.OpError, OSError) as e:
      self.abort()
      raise OutputError(
          '--output_prefix=%s: cannot write %s (%s); choose a writable '
          'location' % (output_prefix, path, e)) from None

  def write(self, serialized_example):
    self._writers[self._count % len(self._writers)].write(serialized_example)
    self._count += 1

  @property
  def count(self):
    return self._count

  def add_side_file(self, final_path, write_fn):
    """Writes a file with `write_fn(temp_path)`; it is renamed on commit."""
    atomic_io.remove_stale_temporaries(final_path)
    temp_path = atomic_io.temp_path(final_path)
    self._side_files.append((temp_path, final_path))
    write_fn(temp_path)

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
    for stale in self._stale_shards:
      if os.path.exists(stale):
        os.remove(stale)

  def abort(self):
    self._close_writers()
    for temp in self._temp_paths + [t for t, _ in self._side_files]:
      if os.path.exists(temp):
        os.remove(temp)
    for directory in self._created_directories:  # deepest first
      try:
        os.rmdir(directory)
      except OSError:
        break  # not empty (or gone): keep it and its parents

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc, tb):
    if exc_type is not None:
      self.abort()
    return False
