# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Anchors, class-id mapping and box conversion against NumPy / hand values."""
import math

import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.ops import box_utils


def numpy_anchors(height, width, stride, scales, ratios):
  rows = []
  for i in range(math.ceil(height / stride)):
    row = []
    for j in range(math.ceil(width / stride)):
      cy, cx = (i + 0.5) * stride, (j + 0.5) * stride
      cell = []
      for s in scales:
        for r in ratios:
          half_w, half_h = s * math.sqrt(r) / 2, s / math.sqrt(r) / 2
          cell += [cy - half_h, cx - half_w, cy + half_h, cx + half_w]
      row.append(cell)
    rows.append(row)
  return np.array(rows, np.float32)


def test_anchors_match_numpy_reference():
  got = box_utils.generate_anchors(48, 80, 16, [128, 256, 512],
                                   [0.5, 1.0, 2.0]).numpy()
  want = numpy_anchors(48, 80, 16, [128, 256, 512], [0.5, 1.0, 2.0])
  assert got.shape == (3, 5, 36)
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-3)
  # Hand check: location (0, 0), scale 128, ratio 1 (the 2nd anchor).
  np.testing.assert_allclose(got[0, 0, 4:8], [-56, -56, 72, 72], atol=1e-4)


def test_anchors_reject_bad_stride():
  with pytest.raises(ValueError, match='power of two'):
    box_utils.generate_anchors(32, 32, 12, [32], [1.0])


def test_class_id_mapping_round_trip():
  table = box_utils.class_index_table([1, 5, 90])
  ids = tf.constant([[90, 1, -1], [5, -1, -1]])
  indices = box_utils.map_class_ids_to_indices(ids, table).numpy()
  np.testing.assert_array_equal(indices, [[3, 1, -1], [2, -1, -1]])
  back = box_utils.map_indices_to_class_ids(tf.constant([0, 1, 2, 3]),
                                            [1, 5, 90]).numpy()
  np.testing.assert_array_equal(back, [0, 1, 5, 90])


@pytest.mark.parametrize('bad_id', [7, 91])
def test_unknown_class_id_is_an_error(bad_id):
  table = box_utils.class_index_table([1, 5, 90])
  with pytest.raises(tf.errors.InvalidArgumentError, match='not in model'):
    box_utils.map_class_ids_to_indices(tf.constant([1, bad_id]), table)


def test_class_index_table_rejects_duplicates():
  with pytest.raises(ValueError, match='distinct'):
    box_utils.class_index_table([1, 1])


def test_boxes_to_original_image_inverts_model_garden_resize():
  # Original 300 x 200 image scaled by 2 (y) and 2.5 (x), offset (4, 10).
  info = tf.constant([[[300, 200], [600, 500], [2.0, 2.5], [4.0, 10.0]]])
  original = np.array([[[10, 20, 110, 120], [0, 0, 300, 200]]], np.float32)
  network = original * [2.0, 2.5, 2.0, 2.5] - [4.0, 10.0, 4.0, 10.0]
  got = box_utils.boxes_to_original_image(network, info).numpy()
  np.testing.assert_allclose(got, original, atol=1e-4)
  # Clipping to the original image, and no clipping when asked.
  outside = tf.constant([[[-20.0, -10.0, 700.0, 600.0]]])
  np.testing.assert_allclose(
      box_utils.boxes_to_original_image(outside, info).numpy(),
      [[[0, 0, 300, 200]]], atol=1e-4)
  np.testing.assert_allclose(
      box_utils.boxes_to_original_image(outside, info, clip=False).numpy(),
      [[[-8, 0, 352, 244]]], atol=1e-4)
