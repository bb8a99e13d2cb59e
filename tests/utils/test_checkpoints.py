# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the checkpoint lookup."""
import os

import pytest
import tensorflow as tf

from mnc_tf.utils import checkpoints


def _save(directory, steps):
  variable = tf.Variable(1.0)
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(v=variable), directory, max_to_keep=None,
      checkpoint_name='ckpt')
  return [manager.save(checkpoint_number=s) for s in steps]


def test_directory_gives_newest_and_prefix_is_kept(tmp_path):
  saved = _save(str(tmp_path), [10, 30, 20])
  assert checkpoints.resolve_checkpoint(str(tmp_path)) == saved[-1]
  assert checkpoints.resolve_checkpoint(saved[1]) == saved[1]
  assert checkpoints.resolve_checkpoint(saved[1] + '.index') == saved[1]


def test_directory_without_state_file_uses_highest_step(tmp_path):
  saved = _save(str(tmp_path), [10, 30, 20])
  os.remove(tmp_path / 'checkpoint')
  assert checkpoints.resolve_checkpoint(str(tmp_path)) == saved[1]


def test_missing_checkpoints_name_the_path(tmp_path):
  with pytest.raises(checkpoints.CheckpointNotFoundError,
                     match=f'no checkpoint in directory {tmp_path}'):
    checkpoints.resolve_checkpoint(str(tmp_path))
  _save(str(tmp_path), [5])
  missing = str(tmp_path / 'ckpt-7')
  with pytest.raises(checkpoints.CheckpointNotFoundError,
                     match=r'ckpt-7 does not exist.*checkpoints there: ckpt-5'):
    checkpoints.resolve_checkpoint(missing)
  with pytest.raises(ValueError, match='nope'):
    checkpoints.resolve_checkpoint(str(tmp_path / 'nope' / 'ckpt-1'))
