# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Checks of damaged checkpoints, SavedModels, text files and TFRecords."""
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.utils import damaged_files
from tests import damage
from tests.damage import scribble
from tests.damage import truncate


def write_checkpoint(directory, steps=(1, 2)):
  """Checkpoints of two variables (one 40 kB) at `steps`; their prefixes."""
  weights = tf.Variable(np.arange(10000, dtype=np.float32))
  counter = tf.Variable(3, dtype=tf.int64)
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(w=weights, n=counter), directory, max_to_keep=None,
      checkpoint_name='ckpt')
  return [manager.save(checkpoint_number=s) for s in steps]


@pytest.fixture(scope='module')
def checkpoint_dir(tmp_path_factory):
  directory = str(tmp_path_factory.mktemp('ckpt'))
  write_checkpoint(directory)
  return directory


@pytest.fixture
def prefix(checkpoint_dir, tmp_path):
  copy = str(tmp_path / 'model')
  shutil.copytree(checkpoint_dir, copy)
  return os.path.join(copy, 'ckpt-2')


DATA = '.data-00000-of-00001'


def assert_damage_named(check, path, damage_fn, culprit, problem):
  """`check(path)` passes, then after `damage_fn(path)` names `culprit`."""
  check(path)
  damage_fn(path)
  with pytest.raises(damaged_files.DamagedFileError) as info:
    check(path)
  message = str(info.value)
  assert message.startswith(path + culprit + ': '), message
  assert problem in message and '\n' not in message
  return message


@pytest.mark.parametrize('damage_fn,culprit,problem', [
    (lambda p: os.remove(p + '.index'), '.index', 'index is missing'),
    (lambda p: truncate(p + '.index', 0), '.index', 'index is empty'),
    (lambda p: truncate(p + '.index'), '.index',
     'not a readable checkpoint index'),
    (lambda p: scribble(p + '.index'), '.index',
     'not a readable checkpoint index'),
    (lambda p: os.remove(p + DATA), DATA, 'data shard of the checkpoint is '
     'missing'),
    # Cut inside the weights: shorter than the index says.
    (lambda p: truncate(p + DATA, 0.5), DATA, 'data are truncated'),
    # One byte short: the object graph at the end no longer reads.
    (lambda p: truncate(p + DATA, os.path.getsize(p + DATA) - 1), DATA,
     'data are cut off or damaged'),
    (lambda p: truncate(p + DATA, 0), DATA, 'data are truncated'),
])
def test_damaged_checkpoint_names_the_file(prefix, damage_fn, culprit,
                                           problem):
  message = assert_damage_named(damaged_files.check_checkpoint, prefix,
                                damage_fn, culprit, problem)
  assert message.endswith('an earlier ckpt-N of the same model_dir)')


def test_truncated_size_is_exactly_what_the_index_lists(prefix):
  # 10000 float32 + 2 int64 (n and the manager's save_counter) + the object
  # graph string (length varint, a 4-byte checksum, its bytes): the intact
  # shard has exactly that size.
  reader = tf.train.load_checkpoint(prefix)
  graph = reader.get_tensor('_CHECKPOINTABLE_OBJECT_GRAPH')
  varint = 1 if len(graph) < 128 else 2
  expected = 40000 + 8 + 8 + varint + 4 + len(graph)
  assert os.path.getsize(prefix + DATA) == expected
  damaged_files.check_checkpoint(prefix)
  # Cut inside the weights: the message gives the weights' size.
  truncate(prefix + DATA, 40012)
  with pytest.raises(damaged_files.DamagedFileError,
                     match=r'truncated \(40012 bytes; its index lists 40016\)'):
    damaged_files.check_checkpoint(prefix)


def test_missing_second_shard_of_two_is_named(prefix):
  os.rename(prefix + DATA, prefix + '.data-00000-of-00002')
  with pytest.raises(damaged_files.DamagedFileError,
                     match='ckpt-2.data-00001-of-00002: a data shard'):
    damaged_files.check_checkpoint(prefix)


@pytest.fixture(scope='module')
def saved_model_dir(tmp_path_factory):
  directory = str(tmp_path_factory.mktemp('sm') / 'saved_model')
  tf.saved_model.save(damage.Doubler(), directory)
  return directory


@pytest.mark.parametrize('damage_fn,culprit,problem', [
    (lambda d: shutil.rmtree(d), '', 'SavedModel directory does not exist'),
    (lambda d: os.remove(os.path.join(d, 'saved_model.pb')),
     '/saved_model.pb', 'holds no SavedModel'),
    (lambda d: truncate(os.path.join(d, 'saved_model.pb'), 0),
     '/saved_model.pb', 'graph is empty'),
    (lambda d: truncate(os.path.join(d, 'saved_model.pb')),
     '/saved_model.pb', 'not a readable SavedModel graph'),
    (lambda d: shutil.rmtree(os.path.join(d, 'variables')), '/variables',
     'no variables directory'),
    (lambda d: os.remove(os.path.join(d, 'variables', 'variables' + DATA)),
     '/variables/variables' + DATA, 'data shard of the checkpoint is '
     'missing'),
    (lambda d: truncate(os.path.join(d, 'variables', 'variables' + DATA)),
     '/variables/variables' + DATA, 'data are truncated'),
    (lambda d: scribble(os.path.join(d, 'variables', 'variables.index')),
     '/variables/variables.index', 'not a readable checkpoint index'),
])
def test_damaged_saved_model_names_the_file(saved_model_dir, tmp_path,
                                            damage_fn, culprit, problem):
  copy = str(tmp_path / 'saved_model')
  shutil.copytree(saved_model_dir, copy)
  assert_damage_named(damaged_files.check_saved_model, copy, damage_fn,
                      culprit, problem)


@pytest.mark.parametrize('content,problem', [
    (None, '--config_file does not exist'),
    ('directory', '--config_file is a directory, not a file'),
    (bytes(range(256)), '--config_file is not text (byte 128 is not UTF-8)'),
])
def test_text_file_problems(tmp_path, content, problem):
  path = str(tmp_path / 'overrides.yaml')
  if content == 'directory':
    os.makedirs(path)
  elif content is not None:
    with open(path, 'wb') as f:
      f.write(content)
  with pytest.raises(damaged_files.DamagedFileError) as info:
    damaged_files.check_text_file(path, '--config_file')
  assert str(info.value).startswith(f'{path}: {problem}; ')


@pytest.mark.parametrize('text,problem', [
    ('', 'is empty'),
    ('{"images": [{"id": 1}, {"i', 'is not valid JSON (Unterminated string '
     'starting at: line 1 column 25 (char 24); cut off?)'),
])
def test_json_file_problems(tmp_path, text, problem):
  path = str(tmp_path / 'val.json')
  with open(path, 'w') as f:
    f.write(text)
  with pytest.raises(damaged_files.DamagedFileError) as info:
    damaged_files.check_json_file(path, 'task.annotation_file')
  assert str(info.value).startswith(f'{path}: task.annotation_file {problem}')


def write_records(path, payloads):
  with tf.io.TFRecordWriter(path) as writer:
    for payload in payloads:
      writer.write(payload)


def test_damaged_record_is_named_by_file_position_and_byte(tmp_path):
  good, bad = str(tmp_path / 'a.tfrecord'), str(tmp_path / 'b.tfrecord')
  write_records(good, [b'x' * 10] * 3)
  write_records(bad, [b'y' * 10, b'z' * 20, b'w' * 5])
  assert damaged_files.find_damaged_record([good, bad]) is None
  # Flip a byte in the payload of record 1 (record 0 takes 12 + 10 + 4
  # bytes; TensorFlow gives the offset of record 1's payload, 26 + 12).
  data = bytearray(open(bad, 'rb').read())
  data[16 + 10 + 12 + 3] ^= 0xff
  open(bad, 'wb').write(bytes(data))
  found = damaged_files.find_damaged_record([good, bad])
  assert str(found) == (
      f'{bad}: record 1 (byte 38) is damaged (corrupted record); convert the '
      'data again or copy this file again; to train past it, set '
      'task.train_data.skip_damaged_records=true')
  # Cut inside record 2.
  write_records(bad, [b'y' * 10, b'z' * 20, b'w' * 5])
  truncate(bad, os.path.getsize(bad) - 3)
  assert str(damaged_files.find_damaged_record([good, bad])).startswith(
      f'{bad}: record 2 (byte 62) is damaged (truncated record)')


def test_undecodable_record_is_named_with_decode_fn(tmp_path):
  path = str(tmp_path / 'a.tfrecord')
  example = tf.train.Example().SerializeToString()
  write_records(path, [example, b'\xff not a proto', example])
  assert damaged_files.find_damaged_record([path]) is None
  found = damaged_files.find_damaged_record(
      [path], lambda record: tf.io.parse_single_example(
          record, {'a': tf.io.VarLenFeature(tf.int64)}))
  assert str(found).startswith(f'{path}: record 1 is damaged (')


def test_first_line_drops_tensorflow_noise():
  error = tf.errors.DataLossError(
      None, None, '{{function_node __wrapped__IteratorGetNext_output_types_1'
      '_device_/job:localhost/replica:0/task:0/device:CPU:0}} corrupted '
      'record at 12 [Op:IteratorGetNext] name: \nmore')
  assert damaged_files.first_line(error) == 'corrupted record at 12'
