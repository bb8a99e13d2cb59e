# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Checks the artefacts the entry points read back, before they are used.

A file cut off by a full disk, emptied by a killed copy or left half-deleted
otherwise surfaces deep inside TensorFlow as a traceback that often does not
name the file. Each check here raises `DamagedFileError`, whose one-line
message is `<path>: <what is wrong>; <what to do>`:

    damaged_files.check_checkpoint('model_dir/ckpt-30')
    damaged_files.check_saved_model('export/saved_model')
    damaged_files.check_text_file('configs/experiments/x.yaml', '--config_file')

`find_damaged_record(paths)` reads TFRecord files one by one after a read
failed somewhere in a data set and names the file, the record's position and
TensorFlow's byte offset.
"""
import json
import os
import re

import numpy as np
import tensorflow as tf


class DamagedFileError(ValueError):
  """A missing, empty, truncated or wrong-kind file; the message is one line.

  Attributes:
    path: the damaged file (or directory).
  """

  def __init__(self, path, problem, fix):
    self.path = path
    super().__init__(f'{path}: {problem}; {fix}')


def first_line(error):
  """The first non-empty line of an exception's message, TF noise removed."""
  text = error.message if isinstance(error, tf.errors.OpError) else str(error)
  text = re.sub(r'\{\{function_node [^}]*\}\}\s*', '', text)
  text = re.sub(r'\s*\[Op:\w+\]( name: \S*)?', '', text)
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  return lines[0] if lines else type(error).__name__


def check_text_file(path, what):
  """Raises if `path` (a YAML / JSON / flag file) is unreadable as text.

  Args:
    path: the file.
    what: how the user named it, e.g. '--config_file'.

  Raises:
    DamagedFileError: missing, a directory, or not UTF-8 text.
  """
  if not tf.io.gfile.exists(path):
    raise DamagedFileError(path, f'{what} does not exist',
                           'pass the path of an existing file')
  if tf.io.gfile.isdir(path):
    raise DamagedFileError(path, f'{what} is a directory, not a file',
                           'pass the path of the file itself')
  with tf.io.gfile.GFile(path, 'rb') as f:
    data = f.read()
  try:
    data.decode('utf-8')
  except UnicodeDecodeError as e:
    raise DamagedFileError(
        path, f'{what} is not text (byte {e.start} is not UTF-8)',
        'it is damaged or of the wrong kind: pass a text file (YAML, JSON '
        'or flags)') from None


def check_json_file(path, what):
  """Raises unless `path` is a readable, complete JSON file.

  Args:
    path: the file.
    what: how the user named it, e.g. 'task.annotation_file'.

  Raises:
    DamagedFileError: missing, a directory, empty, not text or not JSON.
  """
  check_text_file(path, what)
  with tf.io.gfile.GFile(path) as f:
    text = f.read()
  if not text.strip():
    raise DamagedFileError(path, f'{what} is empty', 'make it again or copy '
                           'it again')
  try:
    json.loads(text)
  except ValueError as e:
    raise DamagedFileError(
        path, f'{what} is not valid JSON ({e}; cut off?)',
        'make it again or copy it again') from None


def _data_shards(prefix):
  """The data shard paths `prefix` needs, from the shard names present."""
  present = tf.io.gfile.glob(prefix + '.data-?????-of-?????')
  counts = {int(p[-5:]) for p in present}
  count = max(counts) if counts else 1
  return [f'{prefix}.data-{i:05d}-of-{count:05d}' for i in range(count)]


def _varint_length(value):
  length = 1
  while value >= 0x80:
    value >>= 7
    length += 1
  return length


def _stored_bytes(reader, name, shape, dtype):
  """Bytes tensor `name` takes in the data shards (TF's bundle format).

  Numeric tensors take their raw size; string tensors a varint length per
  element, one 4-byte checksum of the lengths, then the bytes (read from
  the checkpoint: they are small, e.g. the object graph).
  """
  if dtype == tf.string:
    values = np.asarray(reader.get_tensor(name), dtype=object).reshape(-1)
    lengths = [len(v) for v in values]
    return sum(lengths) + sum(_varint_length(n) for n in lengths) + 4
  if dtype in (tf.variant, tf.resource):
    return 0
  return int(np.prod(shape)) * dtype.size


def check_checkpoint(prefix, fix=None):
  """Raises unless `prefix` is a complete, readable TF checkpoint.

  Checks the `.index` (present, non-empty, parses), every data shard
  (present) and their total size (at least the bytes of the tensors the
  index lists: a cut-off copy is shorter). Reads only the string tensors
  (the object graph), not the weights.

  Args:
    prefix: a checkpoint prefix (`model_dir/ckpt-30`, or
      `saved_model/variables/variables`).
    fix: what to do, for the message (default: restore the checkpoint from
      a good copy or use another one).

  Raises:
    DamagedFileError: naming the damaged file.
  """
  fix = fix or ('copy the checkpoint again or pass another one (e.g. an '
                'earlier ckpt-N of the same model_dir)')
  index = prefix + '.index'
  if not tf.io.gfile.exists(index):
    raise DamagedFileError(index, 'the checkpoint index is missing', fix)
  if tf.io.gfile.stat(index).length == 0:
    raise DamagedFileError(index, 'the checkpoint index is empty', fix)
  try:
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
  except (tf.errors.OpError, ValueError, IndexError) as e:
    raise DamagedFileError(
        index, f'not a readable checkpoint index ({first_line(e)})',
        fix) from None
  shards = _data_shards(prefix)
  for shard in shards:
    if not tf.io.gfile.exists(shard):
      raise DamagedFileError(shard, 'a data shard of the checkpoint is '
                             'missing', fix)
  have = sum(tf.io.gfile.stat(shard).length for shard in shards)
  where = shards[-1] if len(shards) == 1 else prefix + '.data-*'
  # The weights first (sizes from the index alone), then the string tensors
  # (which must be read to know their size).
  numeric = [n for n in shapes if dtypes[n] != tf.string]
  needed = sum(_stored_bytes(reader, n, shapes[n], dtypes[n])
               for n in numeric)
  if have >= needed:
    try:
      needed += sum(_stored_bytes(reader, n, shapes[n], dtypes[n])
                    for n in shapes if n not in numeric)
    except (tf.errors.OpError, ValueError, IndexError) as e:
      raise DamagedFileError(
          where, f'the checkpoint data are cut off or damaged '
          f'({first_line(e)})', fix) from None
  if have < needed:
    raise DamagedFileError(
        where, f'the checkpoint data are truncated ({have} bytes; its index '
        f'lists {needed})', fix)


def check_saved_model(directory):
  """Raises unless `directory` holds a complete, readable SavedModel.

  Raises:
    DamagedFileError: no directory, `saved_model.pb` missing / empty /
      unparsable, or `variables/` missing or damaged.
  """
  fix = ('export it again (export/export_saved_model.py) or copy the whole '
         'directory again')
  if not tf.io.gfile.isdir(directory):
    raise DamagedFileError(directory, 'the SavedModel directory does not '
                           'exist', 'pass the directory written by '
                           'export/export_saved_model.py')
  graph = os.path.join(directory, 'saved_model.pb')
  if not tf.io.gfile.exists(graph):
    raise DamagedFileError(graph, 'missing: this directory holds no '
                           'SavedModel', 'pass the directory written by '
                           'export/export_saved_model.py')
  if tf.io.gfile.stat(graph).length == 0:
    raise DamagedFileError(graph, 'the SavedModel graph is empty', fix)
  from tensorflow.python.saved_model import loader_impl  # pylint: disable=g-import-not-at-top
  try:
    loader_impl.parse_saved_model(directory)
  except (IOError, OSError, ValueError, tf.errors.OpError) as e:
    raise DamagedFileError(graph, 'not a readable SavedModel graph (cut off '
                           f'or of the wrong kind: {first_line(e)})',
                           fix) from None
  variables = os.path.join(directory, 'variables')
  if not tf.io.gfile.isdir(variables):
    raise DamagedFileError(variables, 'the SavedModel has no variables '
                           'directory', fix)
  check_checkpoint(os.path.join(variables, 'variables'), fix=fix)


_OFFSET = re.compile(r'(corrupted|truncated) record at (\d+)')


def describe_record_error(path, position, error):
  """`<path>: record <position> ...: <why>; <what to do>` as a one-liner."""
  detail = first_line(error)
  match = _OFFSET.search(detail)
  where = f'record {position}'
  if match:
    where += f' (byte {match.group(2)})'
    detail = f'{match.group(1)} record'
  return DamagedFileError(
      path, f'{where} is damaged ({detail})',
      'convert the data again or copy this file again; to train past it, '
      'set task.train_data.skip_damaged_records=true')


def find_damaged_record(paths, decode_fn=None):
  """The first damaged record among TFRecord files, as a `DamagedFileError`.

  Reads each file in order (eagerly), so the error names the file and the
  record's position in it (0-based). Used after a data set failed to read:
  TensorFlow's own error names neither.

  Args:
    paths: TFRecord files.
    decode_fn: optional serialized record -> decoded tensors; a record it
      cannot decode counts as damaged too.

  Returns:
    `DamagedFileError` for the first damaged record, or None when every
    record of every file reads (and decodes).
  """
  for path in paths:
    if not tf.io.gfile.exists(path):
      return DamagedFileError(path, 'the TFRecord file is missing',
                              'convert the data again or fix the input_path')
    position = 0
    try:
      dataset = tf.data.TFRecordDataset(path)
      for record in dataset:
        if decode_fn is not None:
          decode_fn(record)
        position += 1
    except (tf.errors.OpError, ValueError) as e:
      return describe_record_error(path, position, e)
  return None
