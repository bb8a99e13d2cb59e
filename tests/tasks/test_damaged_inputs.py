# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""train.py's checks of the checkpoints it resumes or starts from, and of
the records behind a failed read."""
import os
import shutil
import types

import pytest
import tensorflow as tf

from mnc_tf.ops import roi_warp_custom
from mnc_tf.tasks import damaged_inputs
from mnc_tf.utils import damaged_files
from tests import damage
from tests import mnc_test_data

DATA = '.data-00000-of-00001'


def _params(init_checkpoint='', train='', validation=''):
  task = types.SimpleNamespace(
      init_checkpoint=init_checkpoint,
      train_data=types.SimpleNamespace(input_path=train),
      validation_data=types.SimpleNamespace(input_path=validation))
  return types.SimpleNamespace(task=task)


@pytest.fixture
def model_dir(tmp_path):
  """A model_dir with ckpt-1 and ckpt-2 (and the `checkpoint` state)."""
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(w=tf.Variable(tf.zeros([1000]))), str(tmp_path),
      max_to_keep=None, checkpoint_name='ckpt')
  manager.save(checkpoint_number=1)
  manager.save(checkpoint_number=2)
  return str(tmp_path)


def _error(model_dir, params=None):
  with pytest.raises(damaged_files.DamagedFileError) as info:
    damaged_inputs.check_checkpoints(model_dir, params or _params())
  return str(info.value)


def test_intact_and_empty_model_dirs_pass(model_dir, tmp_path_factory):
  damaged_inputs.check_checkpoints(model_dir, _params())
  damaged_inputs.check_checkpoints(str(tmp_path_factory.mktemp('new')),
                                   _params())


def test_damaged_newest_checkpoint_names_the_previous_one(model_dir):
  damage.truncate(os.path.join(model_dir, 'ckpt-2' + DATA))
  state = os.path.join(model_dir, 'checkpoint')
  assert _error(model_dir).startswith(
      f'{model_dir}/ckpt-2{DATA}: the checkpoint data are truncated')
  assert _error(model_dir).endswith(
      f'; delete ckpt-2.* and write model_checkpoint_path: "ckpt-1" into '
      f'{state} to resume from ckpt-1')
  # Doing what it says resumes from ckpt-1.
  for name in os.listdir(model_dir):
    if name.startswith('ckpt-2.'):
      os.remove(os.path.join(model_dir, name))
  with open(state, 'w') as f:
    f.write('model_checkpoint_path: "ckpt-1"\n')
  damaged_inputs.check_checkpoints(model_dir, _params())
  assert tf.train.latest_checkpoint(model_dir).endswith('ckpt-1')


def test_the_only_checkpoint_damaged_means_starting_over(model_dir):
  for name in os.listdir(model_dir):
    if name.startswith('ckpt-1.'):
      os.remove(os.path.join(model_dir, name))
  os.remove(os.path.join(model_dir, 'ckpt-2' + DATA))
  assert _error(model_dir).endswith(
      'delete ckpt-2.* and the `checkpoint` file to start from scratch')


@pytest.mark.parametrize('content,problem', [
    ('garbage {{ not a state', 'names no existing checkpoint'),
    ('', 'unreadable (Invalid checkpoint state loaded from'),
    ('model_checkpoint_path: "ckpt-9"\n', 'names no existing checkpoint'),
    (None, 'missing'),
])
def test_damaged_state_file_would_restart_over_the_checkpoints(
    model_dir, content, problem):
  # TensorFlow ignores such a file: training would start at step 0 and
  # overwrite ckpt-1, ckpt-2.
  state = os.path.join(model_dir, 'checkpoint')
  if content is None:
    os.remove(state)
  else:
    with open(state, 'w') as f:
      f.write(content)
  message = _error(model_dir)
  assert message.startswith(f'{state}: the checkpoint state file is '
                            f'{problem}'), message
  assert message.endswith(
      f'write it again: echo \'model_checkpoint_path: "ckpt-2"\' > {state}')


def test_init_checkpoint_missing_or_damaged(model_dir, tmp_path_factory):
  empty = str(tmp_path_factory.mktemp('run'))
  prefix = os.path.join(model_dir, 'ckpt-1')
  damaged_inputs.check_checkpoints(empty, _params(prefix))
  damage.truncate(prefix + '.index')
  assert _error(empty, _params(prefix)).startswith(
      f'{prefix}.index: not a readable checkpoint index')
  assert _error(empty, _params(prefix + '7')).startswith(
      f'{prefix}7: task.init_checkpoint names no checkpoint')


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
  return mnc_test_data.make_tiny_shapes(str(tmp_path_factory.mktemp('d')))


def _copy(pattern, directory):
  os.makedirs(directory)
  for path in tf.io.gfile.glob(pattern):
    shutil.copy(path, directory)
  return sorted(tf.io.gfile.glob(os.path.join(directory, '*')))


def test_read_error_is_traced_to_the_damaged_record(shapes, tmp_path):
  train = _copy(shapes['train_pattern'], str(tmp_path / 'train'))
  val = _copy(shapes['val_pattern'], str(tmp_path / 'val'))
  params = _params(train=str(tmp_path / 'train' / '*'),
                   validation=str(tmp_path / 'val' / '*'))
  loss = tf.errors.DataLossError(None, None, 'corrupted record at 9')
  # Intact inputs: not a damaged file; other errors are never explained.
  assert damaged_inputs.explain_read_error(loss, params, 'train') is None
  damage.flip_byte(train[1], at=0.9)
  found = damaged_inputs.explain_read_error(loss, params, 'train')
  assert str(found).startswith(f'{train[1]}: record 1 (byte ')
  oom = tf.errors.ResourceExhaustedError(None, None, 'OOM')
  assert damaged_inputs.explain_read_error(oom, params, 'train') is None
  # An evaluation reads only the validation records.
  assert damaged_inputs.explain_read_error(loss, params, 'eval') is None
  damage.truncate(val[0], 0.4)
  assert str(damaged_inputs.explain_read_error(
      loss, params, 'eval')).startswith(f'{val[0]}: record 0')


def test_forced_custom_op_that_cannot_load_is_one_line(monkeypatch, tmp_path):
  model = types.SimpleNamespace(roi_warp_implementation='custom')
  params = types.SimpleNamespace(task=types.SimpleNamespace(model=model))
  library = str(tmp_path / '_roi_warp_ops.so')
  damage.write_bytes(library, b'not a shared library')
  monkeypatch.setattr(roi_warp_custom, 'LIBRARY_PATH', library)
  monkeypatch.setattr(roi_warp_custom, '_state',
                      {'module': None, 'error': None, 'tried': False})
  with pytest.raises(damaged_files.DamagedFileError) as info:
    damaged_inputs.check_compiled_op(params)
  assert str(info.value).startswith(
      f'{library}: task.model.roi_warp_implementation=custom needs the '
      f'compiled op, which cannot be used ({library} is not an ELF shared '
      'library')
  assert str(info.value).endswith('to run the pure-TF twin')
  model.roi_warp_implementation = 'auto'  # falls back to the twin
  damaged_inputs.check_compiled_op(params)
