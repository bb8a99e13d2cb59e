# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""peer_checkpoints: a non-chief worker restores what the chief restores."""
import os

import pytest
import tensorflow as tf

from mnc_tf.tasks import peer_checkpoints


def _state(step, value):
  return tf.train.Checkpoint(step=tf.Variable(step, dtype=tf.int64),
                             weight=tf.Variable(value))


def _chief_dir_with(tmp_path, steps):
  """A chief's model_dir holding ckpt-<s> for each s (weight = s / 10)."""
  directory = str(tmp_path / 'chief')
  for step in steps:
    ckpt = _state(step, step / 10)
    manager = tf.train.CheckpointManager(ckpt, directory, max_to_keep=10,
                                         step_counter=ckpt.step)
    manager.save(checkpoint_number=step)
  return directory


def _peer(tmp_path, chief_dir, init_fn=None):
  ckpt = _state(0, -1.0)
  manager = peer_checkpoints.PeerCheckpointManager(
      ckpt, directory=str(tmp_path / 'private'), chief_directory=chief_dir,
      max_to_keep=1, step_counter=ckpt.step, checkpoint_interval=4,
      init_fn=init_fn)
  return ckpt, manager


def test_checkpoint_step():
  assert peer_checkpoints.checkpoint_step('/m/ckpt-30') == 30
  assert peer_checkpoints.checkpoint_step(None) == -1
  assert peer_checkpoints.checkpoint_step('/m/model') == -1


def test_peer_restores_the_chiefs_newest_checkpoint(tmp_path):
  chief_dir = _chief_dir_with(tmp_path, [4, 8])
  ckpt, manager = _peer(tmp_path, chief_dir)
  assert manager.chief_checkpoint == os.path.join(chief_dir, 'ckpt-8')
  assert manager.restore_or_initialize() == os.path.join(chief_dir, 'ckpt-8')
  assert int(ckpt.step.numpy()) == 8
  assert float(ckpt.weight.numpy()) == pytest.approx(0.8)
  # It saves at the chief's steps: the interval counts from the restored one.
  # (Orbit numbers checkpoints by the step.)
  assert manager.save(checkpoint_number=ckpt.step, check_interval=True) is (
      None)
  ckpt.step.assign(12)
  assert manager.save(checkpoint_number=ckpt.step, check_interval=True) == (
      str(tmp_path / 'private' / 'ckpt-12'))


def test_peer_restores_its_own_later_save_not_a_newer_chief_one(tmp_path):
  chief_dir = _chief_dir_with(tmp_path, [4])
  ckpt, manager = _peer(tmp_path, chief_dir)
  manager.restore_or_initialize()
  ckpt.step.assign(8)
  ckpt.weight.assign(0.5)
  manager.save(checkpoint_number=ckpt.step)
  ckpt.weight.assign(9.0)
  _chief_dir_with(tmp_path, [12])  # Written after the job started.
  assert manager.restore_or_initialize().endswith(
      os.path.join('private', 'ckpt-8'))
  assert float(ckpt.weight.numpy()) == pytest.approx(0.5)


def test_peer_initializes_when_the_chief_has_no_checkpoint(tmp_path):
  calls = []
  ckpt, manager = _peer(tmp_path, str(tmp_path / 'empty'),
                        init_fn=lambda: calls.append(1))
  assert manager.restore_or_initialize() is None
  assert calls == [1] and float(ckpt.weight.numpy()) == -1.0


def test_same_checkpoint_passes_on_agreement():
  strategy = tf.distribute.get_strategy()
  peer_checkpoints.check_same_checkpoint(strategy, '/m/ckpt-8')


def test_different_checkpoints_name_the_workers(monkeypatch):
  monkeypatch.setattr(peer_checkpoints, '_worker_steps',
                      lambda strategy, step: [step, step, -1, -1])
  with pytest.raises(peer_checkpoints.CheckpointMismatchError,
                     match=r'\(worker 0: ckpt-8, worker 1: none\); every '
                     r'worker must read the same model_dir'):
    peer_checkpoints.check_same_checkpoint(None, '/m/ckpt-8',
                                           replicas_per_worker=2)
