# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""A train.py killed with SIGKILL resumes from its last checkpoint."""
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from tests import mnc_test_data
from tests import train_subprocess

# Trains, compiles or starts subprocesses: `make test-fast` skips it.
pytestmark = pytest.mark.slow

_OVERRIDES = ('trainer.steps_per_loop=2,trainer.checkpoint_interval=2,'
              'trainer.summary_interval=2,trainer.max_to_keep=50,'
              'trainer.validation_interval=100000')


def _wait_for_checkpoint(model_dir, process, min_step, timeout=240):
  deadline = time.time() + timeout
  while time.time() < deadline:
    latest = tf.train.latest_checkpoint(model_dir)
    if latest and int(latest.rsplit('-', 1)[1]) >= min_step:
      return
    assert process.poll() is None, 'train.py ended before the kill'
    time.sleep(0.2)
  raise AssertionError(f'no checkpoint >= {min_step} within {timeout} s')


def test_sigkill_then_resume(tmp_path):
  paths = mnc_test_data.make_tiny_shapes(str(tmp_path / 'data'))
  model_dir = str(tmp_path / 'model')
  process = subprocess.Popen(
      train_subprocess.command(model_dir, paths, 'train',
                               _OVERRIDES + ',trainer.train_steps=100000'),
      cwd=train_subprocess.REPO_ROOT, env=train_subprocess.environment(),
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    _wait_for_checkpoint(model_dir, process, min_step=6)
  finally:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
  assert process.returncode == -signal.SIGKILL

  latest = tf.train.latest_checkpoint(model_dir)
  killed_at = int(latest.rsplit('-', 1)[1])
  reader = tf.train.load_checkpoint(latest)
  assert reader.get_tensor('global_step/.ATTRIBUTES/VARIABLE_VALUE') == (
      killed_at)
  kernels = sorted(k for k in reader.get_variable_to_shape_map()
                   if k.startswith('model/') and 'kernel' in k
                   and 'OPTIMIZER_SLOT' not in k)
  saved = {k: reader.get_tensor(k) for k in kernels}

  # Resume for 2 more steps (a fresh start would begin at step 0).
  target = killed_at + 2
  result = train_subprocess.run(
      model_dir, paths, 'train',
      _OVERRIDES + f',trainer.train_steps={target}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'train.py: resuming from checkpoint {latest}' in result.stdout
  assert f'step {target}/{target} | total_loss' in result.stdout
  assert f'step 2/{target} |' not in result.stdout
  final = tf.train.load_checkpoint(model_dir)
  assert final.get_tensor('global_step/.ATTRIBUTES/VARIABLE_VALUE') == target
  assert final.get_tensor('optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE') == (
      target)
  # Training went on from the saved weights: 2 small SGD steps away from
  # them (a fresh random initialization would be ~sqrt(2) x their norm away).
  change = np.sqrt(sum(np.sum((final.get_tensor(k) - v) ** 2)
                       for k, v in saved.items()))
  norm = np.sqrt(sum(np.sum(v ** 2) for v in saved.values()))
  assert kernels and 0 < change < 0.05 * norm
