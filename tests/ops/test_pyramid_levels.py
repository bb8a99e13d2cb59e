# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""`assign_levels` against the FPN rule written in NumPy."""
import numpy as np
import pytest

from mnc_tf.ops import pyramid_levels


def numpy_levels(boxes, min_level, max_level, k0=4, canonical=224.0):
  """FPN Eq. 1: floor(k0 + log2(sqrt(wh) / 224)), clamped."""
  h = np.maximum(boxes[..., 2] - boxes[..., 0], 0.0)
  w = np.maximum(boxes[..., 3] - boxes[..., 1], 0.0)
  with np.errstate(divide='ignore'):
    k = np.floor(k0 + np.log2(np.sqrt(h * w) / canonical))
  return np.clip(k, min_level, max_level).astype(np.int32)


def _boxes(sides, aspect=1.0):
  sides = np.asarray(sides, np.float64)
  h, w = sides / np.sqrt(aspect), sides * np.sqrt(aspect)
  return np.stack([10 + 0 * h, 20 + 0 * w, 10 + h, 20 + w], axis=-1)


def test_random_boxes_match_numpy():
  rng = np.random.RandomState(0)
  y, x = rng.uniform(0, 800, [2, 3, 500])[:2]
  h, w = np.exp(rng.uniform(np.log(2), np.log(1200), [2, 3, 500]))
  boxes = np.stack([y, x, y + h, x + w], axis=-1)
  for min_level, max_level in ((2, 5), (3, 6), (2, 2)):
    got = pyramid_levels.assign_levels(boxes, min_level, max_level).numpy()
    np.testing.assert_array_equal(
        got, numpy_levels(boxes, min_level, max_level))
  assert set(np.unique(got)) == {2}
  got = pyramid_levels.assign_levels(boxes, 2, 5).numpy()
  assert set(np.unique(got)) == {2, 3, 4, 5}


def test_boundaries_belong_to_the_upper_level():
  # 112, 224, 448: exact powers of two of 224, where log2 is exact in NumPy.
  sides = [111.9, 112.0, 223.9, 224.0, 447.9, 448.0, 896.0, 10.0]
  boxes = _boxes(sides, aspect=1.0)
  got = pyramid_levels.assign_levels(boxes, 2, 5).numpy()
  np.testing.assert_array_equal(got, [2, 3, 3, 4, 4, 5, 5, 2])
  np.testing.assert_array_equal(got, numpy_levels(boxes, 2, 5))


def test_aspect_ratio_does_not_matter_only_the_area():
  boxes = np.concatenate([_boxes([150.0], a) for a in (0.25, 1.0, 4.0)])
  np.testing.assert_array_equal(
      pyramid_levels.assign_levels(boxes, 2, 5).numpy(), [3, 3, 3])


def test_canonical_level_and_size():
  boxes = _boxes([39.0, 40.0, 79.0, 80.0, 160.0])
  got = pyramid_levels.assign_levels(boxes, 2, 5, canonical_level=4,
                                     canonical_size=80.0).numpy()
  np.testing.assert_array_equal(got, [2, 3, 3, 4, 5])
  np.testing.assert_array_equal(
      got, numpy_levels(boxes, 2, 5, k0=4, canonical=80.0))


def test_padding_boxes_get_the_finest_level():
  boxes = np.array([[0.0, 0.0, 0.0, 0.0], [5.0, 5.0, 1.0, 1.0]])
  np.testing.assert_array_equal(
      pyramid_levels.assign_levels(boxes, 3, 6).numpy(), [3, 3])


def test_bad_level_range_is_an_error():
  with pytest.raises(ValueError, match='max_level'):
    pyramid_levels.assign_levels(np.zeros([1, 4]), 5, 4)
