# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""`MultilevelRoiWarp`: each RoI warped from its level, in RoI order.

References: the NumPy RoI warp of `tests/ops/roi_warp_reference.py` applied
to the level the NumPy FPN rule of `tests/ops/test_pyramid_levels.py` picks,
and float64 finite differences for the gradients w.r.t. the boxes
(`tf.test.compute_gradient`, every coordinate) and every level's features
(central differences along random directions); the boxes are at least 5 %
from a level boundary, so no finite difference moves a box to another level.
"""
import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.modeling.layers import multilevel_roi_warp
from mnc_tf.ops import roi_warp_custom
from tests.ops.roi_warp_reference import roi_warp_numpy
from tests.ops.test_pyramid_levels import numpy_levels

LEVELS = (2, 3, 4, 5)
SIZE = 128
CANONICAL = 40.0   # boundaries at 20, 40, 80 px
IMPLS = ['tf', pytest.param('custom', marks=pytest.mark.skipif(
    roi_warp_custom.load() is None, reason='custom op not built'))]


def _pyramid(rng, batch=2, channels=3):
  return {str(l): rng.standard_normal(
      (batch, SIZE // 2 ** l, SIZE // 2 ** l, channels))
          for l in LEVELS}


def _boxes(rng, batch=2):
  """Boxes of sides 10-110 px, 5 % or more from the 20 / 40 / 80 px bounds."""
  sides = np.array([10.0, 16.0, 24.0, 33.0, 45.0, 70.0, 90.0, 100.0])
  rows = []
  for _ in range(batch):
    side = rng.permutation(sides)
    aspect = rng.uniform(0.7, 1.4, side.shape)
    h, w = side / np.sqrt(aspect), side * np.sqrt(aspect)
    y = rng.uniform(0, SIZE - h)
    x = rng.uniform(0, SIZE - w)
    rows.append(np.stack([y, x, y + h, x + w], axis=-1))
  return np.stack(rows)


def _layer(impl, pooled_size=0):
  return multilevel_roi_warp.MultilevelRoiWarp(
      min_level=2, max_level=5, canonical_level=4, canonical_size=CANONICAL,
      output_size=4, pooled_size=pooled_size, implementation=impl,
      dtype='float64')


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('pooled_size', [0, 2])
def test_each_row_is_its_levels_warp(impl, pooled_size):
  rng = np.random.default_rng(0)
  features, boxes = _pyramid(rng), _boxes(rng)
  got = _layer(impl, pooled_size)(features, tf.constant(boxes)).numpy()
  levels = numpy_levels(boxes, 2, 5, canonical=CANONICAL)
  assert set(np.unique(levels)) == set(LEVELS)
  for level in LEVELS:
    want = roi_warp_numpy(features[str(level)], boxes, 4, 2.0 ** -level,
                          pooled_size)
    rows = levels == level
    np.testing.assert_allclose(got[rows], want[rows], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('impl', IMPLS)
def test_gradients_match_finite_differences(impl):
  rng = np.random.default_rng(1)
  features, boxes = _pyramid(rng, batch=1, channels=2), _boxes(rng, batch=1)
  layer = _layer(impl)
  weights = rng.standard_normal((1, boxes.shape[1], 4, 4, 2))
  maps = {k: tf.constant(v) for k, v in features.items()}

  def loss(box_tensor, pyramid=None):
    return tf.reduce_sum(weights * layer(pyramid or maps, box_tensor))

  theoretical, numerical = tf.test.compute_gradient(
      loss, [tf.constant(boxes)], delta=1e-6)
  assert np.abs(theoretical[0]).max() > 0
  np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-5,
                             atol=1e-6)
  with tf.GradientTape() as tape:
    tape.watch(maps)
    value = loss(tf.constant(boxes))
  grads = tape.gradient(value, maps)
  eps = 1e-6
  for name in maps:
    for _ in range(2):
      v = rng.standard_normal(features[name].shape)
      shifted = lambda sign, n=name, v=v: {
          k: m + sign * eps * v if k == n else m for k, m in maps.items()}
      numeric = (float(loss(tf.constant(boxes), shifted(1.0))) -
                 float(loss(tf.constant(boxes), shifted(-1.0)))) / (2 * eps)
      analytic = float(tf.reduce_sum(grads[name] * v))
      assert abs(analytic) > 1e-3, name    # every level gets a gradient
      np.testing.assert_allclose(analytic, numeric, rtol=1e-6, err_msg=name)


def test_a_box_reads_only_its_own_level():
  rng = np.random.default_rng(2)
  features, boxes = _pyramid(rng, batch=1), _boxes(rng, batch=1)[:, :1]
  level = int(numpy_levels(boxes, 2, 5, canonical=CANONICAL)[0, 0])
  maps = {k: tf.constant(v) for k, v in features.items()}
  with tf.GradientTape() as tape:
    tape.watch(maps)
    out = tf.reduce_sum(_layer('tf')(maps, tf.constant(boxes)))
  grads = tape.gradient(out, maps)
  for name, grad in grads.items():
    touched = grad is not None and np.abs(grad.numpy()).max() > 0
    assert touched == (name == str(level)), (name, level)


def test_missing_level_is_a_clear_error():
  rng = np.random.default_rng(3)
  features = _pyramid(rng)
  del features['5']
  with pytest.raises(ValueError, match=r"levels \['5'\]"):
    _layer('tf')(features, tf.constant(_boxes(rng)))


def test_bad_arguments_and_config_round_trip():
  with pytest.raises(ValueError, match='implementation'):
    multilevel_roi_warp.MultilevelRoiWarp(implementation='nope')
  with pytest.raises(ValueError, match='max_level'):
    multilevel_roi_warp.MultilevelRoiWarp(min_level=4, max_level=3)
  layer = _layer('tf', pooled_size=2)
  clone = multilevel_roi_warp.MultilevelRoiWarp.from_config(
      layer.get_config())
  assert clone.get_config() == layer.get_config()
  assert clone.levels == [2, 3, 4, 5]


def _uneven_boxes():
  """Image 0: small boxes (levels 2, 3); image 1: large ones (4, 5) + one small.

  Sides 10, 16 (level 2), 33 (3), 45, 70 (4), 90, 100 (5) px; the level
  counts differ between the images and no image has every level, so the
  per-level batches carry filler rows.
  """
  def square(y, x, side):
    # Off the integer grid: a sampling point on a feature-grid line is a
    # kink of the bilinear warp, where finite differences do not apply.
    y, x = y + 0.31, x + 0.73
    return [y, x, y + side, x + side]
  return np.array([
      [square(3, 5, 10), square(60, 40, 16), square(20, 70, 33),
       square(90, 90, 16), square(8, 30, 10)],
      [square(5, 5, 45), square(30, 20, 90), square(10, 60, 70),
       square(2, 2, 100), square(100, 100, 10)],
  ], dtype=np.float64)


@pytest.mark.parametrize('impl', IMPLS)
def test_uneven_levels_between_images(impl):
  rng = np.random.default_rng(4)
  features, boxes = _pyramid(rng), _uneven_boxes()
  levels = numpy_levels(boxes, 2, 5, canonical=CANONICAL)
  assert set(levels[0]) == {2, 3} and set(levels[1]) == {2, 4, 5}
  got = _layer(impl)(features, tf.constant(boxes)).numpy()
  for level in LEVELS:
    want = roi_warp_numpy(features[str(level)], boxes, 4, 2.0 ** -level, 0)
    rows = levels == level
    np.testing.assert_allclose(got[rows], want[rows], rtol=1e-10, atol=1e-10)
  weights = rng.standard_normal(got.shape)
  maps = {k: tf.constant(v) for k, v in features.items()}
  theoretical, numerical = tf.test.compute_gradient(
      lambda b: tf.reduce_sum(weights * _layer(impl)(maps, b)),
      [tf.constant(boxes)], delta=1e-6)
  assert np.abs(theoretical[0]).max() > 0
  np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-5,
                             atol=1e-6)


def test_each_level_warps_only_its_boxes(monkeypatch):
  """The warp runs on ~K rows in all, not K per level."""
  warped = []
  real = multilevel_roi_warp.roi_warp

  def counting(features, boxes, **kwargs):
    warped.append(int(boxes.shape[1]))
    return real(features, boxes, **kwargs)

  monkeypatch.setattr(multilevel_roi_warp, 'roi_warp', counting)
  rng = np.random.default_rng(5)
  boxes = _uneven_boxes()
  out = _layer('tf')(_pyramid(rng), tf.constant(boxes))
  assert out.shape == (2, 5, 4, 4, 3)
  levels = numpy_levels(boxes, 2, 5, canonical=CANONICAL)
  want = [max(max(int((row == level).sum()) for row in levels), 1)
          for level in LEVELS]
  assert warped == want    # [2 + filler, 1, 2, 1]: 6 rows, not 4 x 5


@pytest.mark.parametrize('impl', IMPLS)
def test_no_boxes(impl):
  rng = np.random.default_rng(6)
  out = _layer(impl)(_pyramid(rng), tf.zeros([2, 0, 4], tf.float64))
  assert out.shape == (2, 0, 4, 4, 3)
