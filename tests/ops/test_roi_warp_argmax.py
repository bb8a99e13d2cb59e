"""The RoI-warp op's compact argmax: window indices, uint8 when they fit.

With pooled_size P > 0 the op's second output holds, per output element, the
index di * w + dj of the chosen sample inside its cell's w x w window
(w = S / P): uint8 when w^2 <= 256 (the `Targmax` attribute), else int32.
The gradient op routes each cell's gradient to that sample only, and an
index outside [0, w^2) is an error, never an address.
"""

import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.ops import roi_warp_custom
from tests.ops.roi_warp_reference import roi_warp_numpy

pytestmark = pytest.mark.skipif(
    roi_warp_custom.load() is None,
    reason=f'custom op not built: {roi_warp_custom.load_error()}')

SCALE = 1.0 / 4


def _inputs(seed, channels=3, boxes=4, height=7, width=9):
  rng = np.random.default_rng(seed)
  features = rng.standard_normal((1, height, width, channels))
  img_h, img_w = height / SCALE, width / SCALE
  y = np.sort(rng.uniform(-4, img_h + 4, (1, boxes, 2)), -1)
  x = np.sort(rng.uniform(-4, img_w + 4, (1, boxes, 2)), -1)
  b = np.stack([y[..., 0], x[..., 0], y[..., 1], x[..., 1]], -1)
  return tf.constant(features), tf.constant(b)


def _window_argmax(grid, pooled_size):
  """First-maximum window index of each cell of a [B, K, S, S, C] grid."""
  bsz, k, s, _, c = grid.shape
  w = s // pooled_size
  windows = grid.reshape(bsz, k, pooled_size, w, pooled_size, w, c)
  windows = windows.transpose(0, 1, 2, 4, 3, 5, 6).reshape(
      bsz, k, pooled_size, pooled_size, w * w, c)
  return windows.argmax(axis=4)


def _forward(features, boxes, output_size, pooled_size, **kw):
  return roi_warp_custom.load().mnc_tf_roi_warp(
      features=features, boxes=boxes, output_size=output_size,
      spatial_scale=SCALE, pooled_size=pooled_size, **kw)


def _grad(grad, features, boxes, argmax, output_size, pooled_size):
  return roi_warp_custom.load().mnc_tf_roi_warp_grad(
      grad=grad, features=features, boxes=boxes, argmax=argmax,
      output_size=output_size, spatial_scale=SCALE, pooled_size=pooled_size)


@pytest.mark.parametrize('output_size,pooled_size', [
    (4, 2),    # w = 2: the 2 x 2 window of MNC's 28 -> 14
    (6, 2),    # w = 3: any other window
    (8, 2),    # w = 4
    (4, 4),    # w = 1: pooled but nothing to choose
])
def test_argmax_is_the_uint8_window_index(output_size, pooled_size):
  features, boxes = _inputs(0)
  out, argmax = _forward(features, boxes, output_size, pooled_size,
                         Targmax=roi_warp_custom.argmax_dtype(output_size,
                                                              pooled_size))
  assert argmax.dtype == tf.uint8
  grid = roi_warp_numpy(features.numpy(), boxes.numpy(), output_size, SCALE)
  np.testing.assert_array_equal(argmax.numpy(),
                                _window_argmax(grid, pooled_size))
  np.testing.assert_allclose(
      out.numpy(), roi_warp_numpy(features.numpy(), boxes.numpy(),
                                  output_size, SCALE, pooled_size),
      rtol=1e-10, atol=1e-10)


def test_int32_argmax_for_windows_over_256_samples():
  # w = 17: 289 window indices do not fit a byte.
  assert roi_warp_custom.argmax_dtype(34, 2) == tf.int32
  assert roi_warp_custom.argmax_dtype(32, 2) == tf.uint8  # w^2 = 256
  features, boxes = _inputs(1, channels=2, boxes=2)
  out, argmax = _forward(features, boxes, 34, 2, Targmax=tf.int32)
  assert argmax.dtype == tf.int32
  grid = roi_warp_numpy(features.numpy(), boxes.numpy(), 34, SCALE)
  np.testing.assert_array_equal(argmax.numpy(), _window_argmax(grid, 2))
  with pytest.raises((tf.errors.InvalidArgumentError, ValueError),
                     match='Targmax'):
    _forward(features, boxes, 34, 2, Targmax=tf.uint8)


@pytest.mark.parametrize('dtype', [tf.uint8, tf.int32])
def test_gradient_goes_to_the_named_sample_only(dtype):
  # Whatever valid window index argmax holds, the pooled gradient equals the
  # unpooled gradient with each cell's gradient placed at that sample.
  features, boxes = _inputs(2, channels=4, boxes=3)
  rng = np.random.default_rng(3)
  grad = rng.standard_normal((1, 3, 2, 2, 4))
  chosen = rng.integers(0, 4, size=grad.shape)  # window 2 x 2
  unpooled = np.zeros((1, 3, 4, 4, 4))
  for pi in range(2):
    for pj in range(2):
      for s in range(4):
        mask = chosen[:, :, pi, pj] == s
        unpooled[:, :, 2 * pi + s // 2, 2 * pj + s % 2][mask] = (
            grad[:, :, pi, pj][mask])
  got = _grad(tf.constant(grad), features, boxes,
              tf.constant(chosen, dtype), 4, 2)
  want = _grad(tf.constant(unpooled), features, boxes,
               tf.zeros([0], dtype), 4, 0)
  for g, w in zip(got, want):
    np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('dtype,bad', [(tf.uint8, 4), (tf.uint8, 255),
                                       (tf.int32, -1), (tf.int32, 2**31 - 1)])
def test_corrupt_argmax_is_an_error_not_an_address(dtype, bad):
  features, boxes = _inputs(4, channels=3, boxes=2)
  out, argmax = _forward(features, boxes, 4, 2, Targmax=dtype)
  corrupt = tf.tensor_scatter_nd_update(
      argmax, [[0, 1, 1, 0, 2]], tf.constant([bad], dtype))
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'argmax holds an index outside'):
    _grad(tf.ones_like(out), features, boxes, corrupt, 4, 2)
