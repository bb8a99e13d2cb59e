# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Runs train.py and kills itself (SIGKILL) while saving checkpoint N.

N comes from the environment variable `MNC_TEST_KILL_IN_SAVE`. The kill comes
after the checkpoint's files are written and before the `checkpoint` state
file names them: the last moment of a save, when a reader that went by the
files alone would take the unfinished checkpoint.

    MNC_TEST_KILL_IN_SAVE=14 python tests/train_killed_in_save.py <train.py flags>
"""
import os
import runpy
import signal
import sys

# pylint: disable=g-direct-tensorflow-import
from tensorflow.python.checkpoint import checkpoint_management
# pylint: enable=g-direct-tensorflow-import

_TRAIN_PY = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'train.py')
_update_state = checkpoint_management.update_checkpoint_state_internal


def _update_state_or_die(save_dir, model_checkpoint_path, *args, **kwargs):
  if model_checkpoint_path.endswith('-' + os.environ['MNC_TEST_KILL_IN_SAVE']):
    os.kill(os.getpid(), signal.SIGKILL)
  return _update_state(save_dir, model_checkpoint_path, *args, **kwargs)


if __name__ == '__main__':
  checkpoint_management.update_checkpoint_state_internal = (
      _update_state_or_die)
  sys.argv[0] = _TRAIN_PY
  runpy.run_path(_TRAIN_PY, run_name='__main__')
