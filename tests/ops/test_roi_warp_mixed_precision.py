# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Mixed-precision training through train.py, with the RoI warp in the
policy's compute dtype.

`runtime.mixed_precision_dtype=bfloat16` (Keras policy mixed_bfloat16) and
`float16` (mixed_float16, with Model Garden's dynamic loss scaling) each train
one step of the tiny synthetic experiment; the total loss must be finite and
every RoI warp of the training step must run in the compute dtype (recorded
by a wrapper around the layer's `roi_warp`, set up before train.py runs).
"""

import math
import os
import re
import subprocess
import sys
import textwrap

import pytest

from tests import mnc_test_data
from tests import train_subprocess

# Trains, compiles or starts subprocesses: `make test-fast` skips it.
pytestmark = pytest.mark.slow

# Runs train.py as __main__ after wrapping the RoiWarp layer's op call so that
# it prints the dtypes it is called with.
_RUNNER = textwrap.dedent('''
    import runpy, sys
    from mnc_tf.modeling.layers import roi_warp as layer
    _op = layer.roi_warp
    def _logged(features, boxes, *args, **kwargs):
      out = _op(features, boxes, *args, **kwargs)
      print(f'ROI_WARP features={features.dtype.name} output={out.dtype.name}',
            file=sys.stderr, flush=True)
      return out
    layer.roi_warp = _logged
    sys.argv = [sys.argv[1]] + sys.argv[2:]
    runpy.run_path(sys.argv[0], run_name='__main__')
''')


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
  return mnc_test_data.make_tiny_shapes(str(tmp_path_factory.mktemp('data')))


@pytest.mark.parametrize('dtype,extra', [
    ('bfloat16', ''),
    ('float16', ',runtime.loss_scale=dynamic'),
])
def test_one_mixed_precision_step_is_finite_with_the_warp_in_compute_dtype(
    tiny_data, tmp_path, dtype, extra):
  cmd = train_subprocess.command(
      str(tmp_path / 'model'), tiny_data, 'train',
      'trainer.train_steps=1,trainer.steps_per_loop=1,'
      'trainer.checkpoint_interval=1,trainer.summary_interval=1,'
      'task.model.roi_warp_implementation=custom,'
      f'runtime.mixed_precision_dtype={dtype}{extra}')
  cmd = [cmd[0], '-c', _RUNNER] + cmd[1:]
  result = subprocess.run(cmd, cwd=train_subprocess.REPO_ROOT,
                          env=train_subprocess.environment(), timeout=600,
                          capture_output=True, text=True)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  losses = re.findall(r'step 1/1 \| total_loss ([^ ]+)', result.stdout)
  assert losses, result.stdout[-3000:]
  assert math.isfinite(float(losses[-1])), losses
  calls = re.findall(r'ROI_WARP features=(\w+) output=(\w+)', result.stderr)
  assert calls, result.stderr[-3000:]
  assert set(calls) == {(dtype, dtype)}, set(calls)


@pytest.mark.parametrize('dtype', ['bfloat16', 'float16'])
def test_16bit_features_keep_float32_boxes(dtype):
  # On a 1-px grid, box corners between 256 and 512 px would move by up to
  # 1 px (bfloat16: steps of 2) if they were rounded to the features' dtype.
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from mnc_tf.ops import roi_warp_custom  # pylint: disable=g-import-not-at-top
  from mnc_tf.ops.roi_warp import roi_warp  # pylint: disable=g-import-not-at-top
  from tests.ops.roi_warp_reference import roi_warp_numpy  # pylint: disable=g-import-not-at-top
  if roi_warp_custom.load() is None:
    pytest.skip('custom op not built')
  rng = np.random.default_rng(0)
  features = tf.cast(rng.standard_normal((1, 8, 600, 2)), dtype)
  boxes = tf.constant([[[1.3, 257.3, 6.6, 263.1], [0.7, 301.9, 7.2, 309.3]]],
                      tf.float32)
  with tf.GradientTape() as tape:
    tape.watch(boxes)
    out = roi_warp(features, boxes, 4, 1.0, 0, implementation='custom')
    loss = tf.reduce_sum(tf.cast(out, tf.float32))
  grad_boxes = tape.gradient(loss, boxes)
  assert out.dtype == dtype and grad_boxes.dtype == tf.float32
  f64 = tf.cast(features, tf.float64).numpy()
  want = roi_warp_numpy(f64, boxes.numpy().astype(np.float64), 4, 1.0)
  rounded = tf.cast(tf.cast(boxes, dtype), tf.float64).numpy()
  with_rounded_boxes = roi_warp_numpy(f64, rounded, 4, 1.0)
  got = tf.cast(out, tf.float64).numpy()
  tol = {'bfloat16': 2e-2, 'float16': 3e-3}[dtype]
  np.testing.assert_allclose(got, want, atol=tol * np.abs(want).max())
  assert np.abs(with_rounded_boxes - want).max() > 10 * tol * np.abs(want).max()
  # The float32 box gradient equals the float32 op's on the same features.
  with tf.GradientTape() as tape:
    tape.watch(boxes)
    loss32 = tf.reduce_sum(roi_warp(tf.cast(features, tf.float32), boxes, 4,
                                    1.0, 0, implementation='custom'))
  np.testing.assert_allclose(grad_boxes.numpy(),
                             tape.gradient(loss32, boxes).numpy(),
                             rtol=tol, atol=tol)
