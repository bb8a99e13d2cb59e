"""The crop_and_resize form of the RoI warp (exported graphs) against NumPy
and the twin: values, edge cases, graph mode, gradients."""

import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.ops.roi_warp import roi_warp
from tests.ops.roi_warp_reference import roi_warp_numpy
from tests.ops.test_roi_warp import SCALE
from tests.ops.test_roi_warp import random_inputs

TOL = dict(rtol=2e-5, atol=2e-5)


def warp(features, boxes, output_size=4, pooled_size=0, impl='crop_and_resize'):
  return roi_warp(features, boxes, output_size=output_size,
                  spatial_scale=SCALE, pooled_size=pooled_size,
                  implementation=impl)


@pytest.mark.parametrize('output_size, pooled_size', [(4, 0), (4, 2), (6, 3),
                                                      (1, 0), (28, 14)])
@pytest.mark.parametrize('seed', [0, 1])
def test_forward_matches_numpy(output_size, pooled_size, seed):
  features, boxes = random_inputs(seed, batch=3, channels=5, boxes=7,
                                  dtype=np.float32, margin=12.0)
  got = warp(features, boxes, output_size, pooled_size)
  want = roi_warp_numpy(features.astype(np.float64), boxes.astype(np.float64),
                        output_size, SCALE, pooled_size)
  assert got.shape == want.shape and got.dtype == tf.float32
  np.testing.assert_allclose(got.numpy(), want, **TOL)


def test_degenerate_far_non_finite_and_empty():
  features, _ = random_inputs(10, dtype=np.float32)
  boxes = np.array([[
      [10.0, 10.0, 10.0, 10.0],        # zero size: one point, repeated
      [20.0, 30.0, 5.0, 4.0],          # inverted: follows the formula
      [1e30, 1e30, 2e30, 2e30],        # far outside: zeros
      [-100.0, -100.0, -50.0, -60.0],  # outside the map
      [np.nan, 0.0, 8.0, 8.0],         # non-finite: zeros
      [0.0, -np.inf, 8.0, 8.0],
  ]] * 2, np.float32)
  out = warp(features, boxes).numpy()
  want = roi_warp_numpy(features.astype(np.float64),
                        boxes[:, :2].astype(np.float64), 4, SCALE, 0)
  np.testing.assert_allclose(out[:, :2], want, **TOL)
  assert np.all(np.isfinite(out)) and not np.any(out[:, 2:])
  assert warp(features, np.zeros([2, 0, 4], np.float32), 4, 2).shape == (
      2, 0, 2, 2, 3)
  empty = warp(tf.zeros([1, 0, 5, 3]), tf.constant([[[0.0, 0.0, 8.0, 8.0]]]),
               4, 2)
  assert empty.shape == (1, 1, 2, 2, 3) and not np.any(empty.numpy())


def test_low_precision_input_keeps_its_dtype():
  features, boxes = random_inputs(3, dtype=np.float32)
  half = features.astype(np.float16)
  out = warp(tf.constant(half), boxes, 4, 2)
  assert out.dtype == tf.float16
  # The boxes stay float32 (16-bit features keep float32 box coordinates);
  # the warp is computed in float32 from the float16 values and rounded once
  # at the end.
  want = warp(half.astype(np.float32), boxes, 4, 2).numpy()
  np.testing.assert_allclose(out.numpy(), want, rtol=1e-3, atol=1e-3)


def test_inside_tf_function_with_unknown_shapes():
  features, boxes = random_inputs(4, dtype=np.float32)

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3]),
                                tf.TensorSpec([None, None, 4])])
  def run(f, b):
    return warp(f, b, 4, 2)

  np.testing.assert_allclose(run(features, boxes).numpy(),
                             warp(features, boxes, 4, 2, impl='tf').numpy(),
                             **TOL)


@pytest.mark.parametrize('pooled_size', [0, 2])
def test_gradients_agree_with_the_twin(pooled_size):
  features, boxes = random_inputs(5, dtype=np.float32)
  weights = tf.random.stateless_normal([2, 5, pooled_size or 4,
                                        pooled_size or 4, 3], [0, 1])
  grads = {}
  for impl in ('crop_and_resize', 'tf'):
    f, b = tf.constant(features), tf.constant(boxes)
    with tf.GradientTape() as tape:
      tape.watch([f, b])
      loss = tf.reduce_sum(weights * warp(f, b, 4, pooled_size, impl=impl))
    grads[impl] = [g.numpy() for g in tape.gradient(loss, [f, b])]
  for got, want in zip(grads['crop_and_resize'], grads['tf']):
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
