"""Tests of the RoI-warp op: custom op and pure-TF twin against NumPy,
numerical gradients, agreement, bad input, graph mode."""

import importlib
import logging

import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.ops import roi_warp_custom
from mnc_tf.ops.roi_warp import roi_warp
from tests.ops.roi_warp_reference import roi_warp_numpy

# The module (the package re-exports the function under the same name).
roi_warp_lib = importlib.import_module('mnc_tf.ops.roi_warp')
SCALE = 1.0 / 4
IMPLS = ['custom', 'tf']

requires_custom = pytest.mark.skipif(
    roi_warp_custom.load() is None,
    reason=f'custom op not built: {roi_warp_custom.load_error()}')


def _impl_param(name):
  marks = [requires_custom] if name == 'custom' else []
  return pytest.param(name, marks=marks, id=name)


ALL_IMPLS = [_impl_param(n) for n in IMPLS]


def random_inputs(seed, batch=2, height=7, width=9, channels=3, boxes=5,
                  dtype=np.float64, margin=8.0):
  """Features and boxes; boxes may stick out of the map by `margin` px."""
  rng = np.random.default_rng(seed)
  features = rng.standard_normal((batch, height, width, channels)).astype(dtype)
  img_h, img_w = height / SCALE, width / SCALE
  y = np.sort(rng.uniform(-margin, img_h + margin, (batch, boxes, 2)), -1)
  x = np.sort(rng.uniform(-margin, img_w + margin, (batch, boxes, 2)), -1)
  b = np.stack([y[..., 0], x[..., 0], y[..., 1], x[..., 1]], -1).astype(dtype)
  return features, b


@pytest.mark.parametrize('impl', ALL_IMPLS)
@pytest.mark.parametrize('pooled_size', [0, 2])
def test_forward_matches_numpy(impl, pooled_size):
  features, boxes = random_inputs(0)
  got = roi_warp(features, boxes, output_size=4, spatial_scale=SCALE,
                 pooled_size=pooled_size, implementation=impl)
  want = roi_warp_numpy(features, boxes, 4, SCALE, pooled_size)
  assert got.shape == want.shape
  np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('impl', ALL_IMPLS)
def test_forward_float32_batch_and_many_channels(impl):
  # C = 70 spans more than one channel block of the CPU kernel.
  features, boxes = random_inputs(1, batch=3, channels=70, boxes=4,
                                  dtype=np.float32)
  got = roi_warp(features, boxes, output_size=6, spatial_scale=SCALE,
                 pooled_size=3, implementation=impl)
  want = roi_warp_numpy(features, boxes, 6, SCALE, 3)
  np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)


def test_known_value_single_pixel():
  # A 1-pixel box sampled once at map position (1.5, 2.5): the average of
  # four pixels, computed by hand.
  features = np.arange(20, dtype=np.float64).reshape(1, 4, 5, 1)
  boxes = np.array([[[1.5, 2.5, 2.5, 3.5]]])  # s = 1: y0 = 1.0, bh = 1
  for impl in ['tf'] + (['custom'] if roi_warp_custom.load() else []):
    out = roi_warp(features, boxes, output_size=1, spatial_scale=1.0,
                   implementation=impl).numpy()
    assert out.shape == (1, 1, 1, 1, 1)
    # pos = 1.5 - 0.5 + 0.5 = 1.5 -> rows 1, 2; x: 2.5 -> cols 2, 3.
    want = (features[0, 1, 2, 0] + features[0, 1, 3, 0] + features[0, 2, 2, 0]
            + features[0, 2, 3, 0]) / 4
    assert out[0, 0, 0, 0, 0] == pytest.approx(want)


def _loss_fn(impl, output_size, pooled_size, weights):
  def fn(features, boxes):
    out = roi_warp(features, boxes, output_size=output_size,
                   spatial_scale=SCALE, pooled_size=pooled_size,
                   implementation=impl)
    return tf.reduce_sum(out * weights)
  return fn


@pytest.mark.parametrize('impl', ALL_IMPLS)
@pytest.mark.parametrize('pooled_size', [0, 2])
def test_gradients_match_numerical(impl, pooled_size):
  features, boxes = random_inputs(2, batch=2, height=5, width=6, channels=2,
                                  boxes=3)
  n = pooled_size or 4
  weights = np.random.default_rng(3).standard_normal((2, 3, n, n, 2))
  fn = _loss_fn(impl, 4, pooled_size, weights)
  theoretical, numerical = tf.test.compute_gradient(
      fn, [tf.constant(features), tf.constant(boxes)], delta=1e-6)
  for name, t, nmr in zip(['features', 'boxes'], theoretical, numerical):
    assert np.abs(t).max() > 0, name  # the test can fail: gradients non-zero
    np.testing.assert_allclose(t, nmr, rtol=1e-5, atol=1e-6, err_msg=name)


@requires_custom
@pytest.mark.parametrize('pooled_size', [0, 2])
@pytest.mark.parametrize('dtype', [tf.float32, tf.float64])
def test_custom_equals_twin_values_and_gradients(pooled_size, dtype):
  features, boxes = random_inputs(4, batch=2, height=9, width=11, channels=70,
                                  boxes=6)
  features, boxes = tf.constant(features, dtype), tf.constant(boxes, dtype)
  n = pooled_size or 4
  weights = tf.constant(
      np.random.default_rng(5).standard_normal((2, 6, n, n, 70)), dtype)
  results = {}
  for impl in IMPLS:
    with tf.GradientTape() as tape:
      tape.watch([features, boxes])
      out = roi_warp(features, boxes, 4, SCALE, pooled_size, implementation=impl)
      loss = tf.reduce_sum(out * weights)
    results[impl] = [out] + tape.gradient(loss, [features, boxes])
  tol = 1e-12 if dtype == tf.float64 else 2e-5
  for a, b in zip(results['custom'], results['tf']):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tol, atol=tol)


@requires_custom
@pytest.mark.parametrize('dtype', [tf.float16, tf.bfloat16])
def test_low_precision_dtypes(dtype):
  features, boxes = random_inputs(6, channels=4, dtype=np.float32)
  want = roi_warp_numpy(features, boxes, 4, SCALE, 2)
  f, b = tf.constant(features, dtype), tf.constant(boxes, dtype)
  with tf.GradientTape() as tape:
    tape.watch([f, b])
    out = roi_warp(f, b, 4, SCALE, 2, implementation='custom')
  grads = tape.gradient(out, [f, b])
  assert out.dtype == dtype and grads[0].dtype == dtype
  # Boxes are rounded to the low-precision dtype too: compare loosely.
  np.testing.assert_allclose(tf.cast(out, tf.float32).numpy(), want,
                             atol=0.15, rtol=0.05)


@requires_custom
def test_backward_is_deterministic():
  features, boxes = random_inputs(7, batch=1, height=12, width=12,
                                  channels=40, boxes=64, dtype=np.float32)
  f, b = tf.constant(features), tf.constant(boxes)

  def grads():
    with tf.GradientTape() as tape:
      tape.watch([f, b])
      loss = tf.reduce_sum(tf.sin(roi_warp(f, b, 6, SCALE, 3,
                                           implementation='custom')))
    return [g.numpy() for g in tape.gradient(loss, [f, b])]

  first, second = grads(), grads()
  for a, c in zip(first, second):
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize('impl', ALL_IMPLS)
def test_inside_tf_function_with_unknown_shapes(impl):
  features, boxes = random_inputs(8, dtype=np.float32)

  @tf.function(input_signature=[
      tf.TensorSpec([None, None, None, 3], tf.float32),
      tf.TensorSpec([None, None, 4], tf.float32)])
  def fn(f, b):
    with tf.GradientTape() as tape:
      tape.watch([f, b])
      out = roi_warp(f, b, 4, SCALE, 2, implementation=impl)
      loss = tf.reduce_sum(out)
    return out, tape.gradient(loss, [f, b])

  out, (gf, gb) = fn(features, boxes)
  np.testing.assert_allclose(out.numpy(),
                             roi_warp_numpy(features, boxes, 4, SCALE, 2),
                             rtol=1e-5, atol=1e-5)
  assert gf.shape == features.shape and gb.shape == boxes.shape


@pytest.mark.parametrize('impl', ALL_IMPLS)
@pytest.mark.parametrize('pooled_size', [0, 2])
def test_zero_boxes(impl, pooled_size):
  features = tf.random.normal([2, 5, 5, 3])
  boxes = tf.zeros([2, 0, 4])
  with tf.GradientTape() as tape:
    tape.watch([features, boxes])
    out = roi_warp(features, boxes, 4, SCALE, pooled_size, implementation=impl)
    loss = tf.reduce_sum(out)
  n = pooled_size or 4
  assert out.shape == (2, 0, n, n, 3)
  gf, gb = tape.gradient(loss, [features, boxes])
  assert gb.shape == (2, 0, 4)
  if gf is not None:
    assert not np.any(gf.numpy())


@pytest.mark.parametrize('impl', ALL_IMPLS)
def test_non_finite_boxes_give_zeros_and_zero_gradients(impl):
  features, boxes = random_inputs(9, boxes=4)
  boxes[0, 1, 2] = np.nan
  boxes[1, 0, 0] = np.inf
  boxes[1, 3, 3] = -np.inf
  f, b = tf.constant(features), tf.constant(boxes)
  with tf.GradientTape() as tape:
    tape.watch([f, b])
    out = roi_warp(f, b, 4, SCALE, 2, implementation=impl)
    loss = tf.reduce_sum(out)
  gf, gb = tape.gradient(loss, [f, b])
  out, gb = out.numpy(), gb.numpy()
  assert np.all(np.isfinite(out)) and np.all(np.isfinite(gf.numpy()))
  for bi, ki in [(0, 1), (1, 0), (1, 3)]:
    assert not np.any(out[bi, ki]) and not np.any(gb[bi, ki])
  finite = roi_warp_numpy(features, np.nan_to_num(boxes), 4, SCALE, 2)
  np.testing.assert_allclose(out[0, 0], finite[0, 0], rtol=1e-10, atol=1e-10)
  assert np.all(np.isfinite(gb))


@pytest.mark.parametrize('impl', ALL_IMPLS)
def test_degenerate_and_far_boxes(impl):
  features, _ = random_inputs(10)
  boxes = np.array([[
      [10.0, 10.0, 10.0, 10.0],        # zero size: one point, repeated
      [20.0, 30.0, 5.0, 4.0],          # inverted: follows the formula
      [1e30, 1e30, 2e30, 2e30],        # far outside: zeros
      [-1e30, -1e30, 1e30, 1e30],      # huge: samples far outside
      [-100.0, -100.0, -50.0, -60.0],  # outside the map
  ]] * 2)
  out = roi_warp(features, boxes, 4, SCALE, 0, implementation=impl).numpy()
  want = roi_warp_numpy(features, boxes[:, :2], 4, SCALE, 0)
  np.testing.assert_allclose(out[:, :2], want, rtol=1e-10, atol=1e-10)
  assert np.all(out[:, 0] == out[:, 0, :1, :1])  # one point everywhere
  assert not np.any(out[:, 2:])


@pytest.mark.parametrize('impl', ALL_IMPLS)
def test_static_shape_errors(impl):
  f = tf.zeros([1, 4, 4, 2])
  with pytest.raises(ValueError, match='features'):
    roi_warp(tf.zeros([4, 4, 2]), tf.zeros([1, 1, 4]), implementation=impl)
  with pytest.raises(ValueError, match='boxes'):
    roi_warp(f, tf.zeros([1, 4]), implementation=impl)
  with pytest.raises(ValueError, match='boxes'):
    roi_warp(f, tf.zeros([1, 2, 5]), implementation=impl)
  with pytest.raises(ValueError, match='batch'):
    roi_warp(f, tf.zeros([2, 2, 4]), implementation=impl)
  with pytest.raises(ValueError, match='divisible'):
    roi_warp(f, tf.zeros([1, 2, 4]), output_size=7, pooled_size=2,
             implementation=impl)
  with pytest.raises(ValueError, match='spatial_scale'):
    roi_warp(f, tf.zeros([1, 2, 4]), spatial_scale=float('nan'),
             implementation=impl)
  with pytest.raises(ValueError, match='output_size'):
    roi_warp(f, tf.zeros([1, 2, 4]), output_size=0, implementation=impl)
  with pytest.raises(ValueError, match='floating'):
    roi_warp(tf.zeros([1, 4, 4, 2], tf.int32), tf.zeros([1, 2, 4]),
             implementation=impl)
  with pytest.raises(ValueError, match='implementation'):
    roi_warp(f, tf.zeros([1, 2, 4]), implementation='cuda')


@requires_custom
def test_kernel_rejects_bad_dynamic_shapes():
  """Shapes unknown at trace time reach the C++ kernel's own checks."""
  @tf.function(input_signature=[tf.TensorSpec(None, tf.float32),
                                tf.TensorSpec(None, tf.float32)])
  def fn(f, b):
    return roi_warp(f, b, 4, SCALE, 2, implementation='custom')

  cases = [
      (np.zeros([4, 4, 2]), np.zeros([1, 1, 4]), 'features must be'),
      (np.zeros([1, 4, 4, 2]), np.zeros([1, 4]), 'boxes must be'),
      (np.zeros([1, 4, 4, 2]), np.zeros([1, 3, 5]), 'boxes must be'),
      (np.zeros([2, 4, 4, 2]), np.zeros([3, 1, 4]), 'batch'),
  ]
  for f, b, msg in cases:
    with pytest.raises(tf.errors.InvalidArgumentError, match=msg):
      fn(f.astype(np.float32), b.astype(np.float32))


@requires_custom
def test_raw_ops_reject_bad_attributes_and_gradients():
  module = roi_warp_custom.load()
  f = tf.random.normal([1, 4, 4, 2])
  b = tf.constant([[[0.0, 0.0, 8.0, 8.0]]])
  with pytest.raises((tf.errors.InvalidArgumentError, ValueError),
                     match='divisible'):
    module.mnc_tf_roi_warp(features=f, boxes=b, output_size=5, spatial_scale=1.0,
                           pooled_size=2)
  with pytest.raises((tf.errors.InvalidArgumentError, ValueError),
                     match='spatial_scale'):
    module.mnc_tf_roi_warp(features=f, boxes=b, output_size=4,
                           spatial_scale=-1.0, pooled_size=2)
  out, argmax = module.mnc_tf_roi_warp(features=f, boxes=b, output_size=4,
                                       spatial_scale=1.0, pooled_size=2)
  grad = tf.ones_like(out)
  with pytest.raises((tf.errors.InvalidArgumentError, ValueError),
                     match='grad must have shape|Dimension'):
    module.mnc_tf_roi_warp_grad(grad=tf.ones([1, 1, 3, 3, 2]), features=f,
                                boxes=b, argmax=argmax, output_size=4,
                                spatial_scale=1.0, pooled_size=2)
  bad = argmax + 1000
  with pytest.raises(tf.errors.InvalidArgumentError, match='argmax'):
    module.mnc_tf_roi_warp_grad(grad=grad, features=f, boxes=b, argmax=bad,
                                output_size=4, spatial_scale=1.0, pooled_size=2)


@pytest.mark.parametrize('impl', ALL_IMPLS)
def test_empty_feature_map(impl):
  out = roi_warp(tf.zeros([1, 0, 5, 3]), tf.constant([[[0.0, 0.0, 8.0, 8.0]]]),
                 4, SCALE, 2, implementation=impl)
  assert out.shape == (1, 1, 2, 2, 3) and not np.any(out.numpy())


def test_auto_falls_back_to_twin_with_one_warning(monkeypatch, caplog):
  monkeypatch.setattr(roi_warp_custom, '_state',
                      {'module': None, 'error': 'simulated: not built',
                       'tried': True})
  monkeypatch.setattr(roi_warp_lib, '_warned', [])
  features, boxes = random_inputs(11)
  with caplog.at_level(logging.WARNING):
    first = roi_warp(features, boxes, 4, SCALE, 2)
    roi_warp(features, boxes, 4, SCALE, 2)
  warnings = [r for r in caplog.records if 'not available' in r.getMessage()]
  assert len(warnings) == 1 and 'simulated: not built' in warnings[0].getMessage()
  np.testing.assert_allclose(first.numpy(),
                             roi_warp_numpy(features, boxes, 4, SCALE, 2),
                             rtol=1e-10, atol=1e-10)
  with pytest.raises(tf.errors.NotFoundError, match='not built'):
    roi_warp(features, boxes, 4, SCALE, 2, implementation='custom')


@requires_custom
def test_pooled_ties_route_the_gradient_like_the_custom_op():
  # A constant map: every pooling window is an exact tie; both send each
  # window's gradient to its first sample (row-major).
  features = tf.ones([1, 6, 6, 2], tf.float64)
  boxes = tf.constant([[[4.0, 4.0, 16.0, 20.0], [2.0, 6.0, 9.0, 9.5]]],
                      tf.float64)
  weights = tf.reshape(tf.range(32, dtype=tf.float64), [1, 2, 2, 2, 4])[
      ..., :2]
  grads = []
  for impl in ('custom', 'tf'):
    with tf.GradientTape() as tape:
      tape.watch([features, boxes])
      loss = tf.reduce_sum(weights * roi_warp(features, boxes, 4, SCALE, 2,
                                              implementation=impl))
    grads.append([g.numpy() for g in tape.gradient(loss, [features, boxes])])
  for got, want in zip(*grads):
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
