# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the network-input -> original-image mapping."""
import numpy as np
import pytest

from mnc_tf.evaluation import original_image

# Original 30 x 50, scaled by 1.6 to 48 x 80, padded to 64 x 80.
IMAGE_INFO = np.array([[30, 50], [48, 80], [1.6, 1.6], [0, 0]], np.float32)


def test_boxes_to_original():
  boxes = np.array([[16, 8, 32, 40], [-4, 70, 60, 90]], np.float32)
  out = original_image.boxes_to_original(boxes, IMAGE_INFO)
  np.testing.assert_allclose(out[0], [10, 5, 20, 25], rtol=1e-6)
  np.testing.assert_allclose(out[1], [0, 43.75, 30, 50], rtol=1e-6)  # Clipped.


def test_resize_nearest_is_exact_for_integer_factors():
  small = np.arange(6).reshape(1, 2, 3)
  big = original_image.resize_nearest(small, 4, 6)
  np.testing.assert_array_equal(big[0], np.kron(small[0], np.ones((2, 2))))
  np.testing.assert_array_equal(original_image.resize_nearest(big, 2, 3),
                                small)


def test_full_image_masks_to_original():
  masks = np.zeros((1, 64, 80), np.float32)
  masks[0, 16:32, 8:40] = 0.8  # The box of the first test, in input pixels.
  masks[0, 50:, :] = 1.0       # Padding: must be cropped away.
  out = original_image.full_image_masks_to_original(masks, IMAGE_INFO)
  assert out.shape == (1, 30, 50) and out.dtype == np.uint8
  expected = np.zeros((30, 50), np.uint8)
  expected[10:20, 5:25] = 1
  np.testing.assert_array_equal(out[0], expected)


def test_bad_image_info():
  with pytest.raises(ValueError, match=r'\[4, 2\]'):
    original_image.boxes_to_original(np.zeros((1, 4)), np.zeros((3, 2)))
  with pytest.raises(ValueError, match='non-positive'):
    original_image.boxes_to_original(np.zeros((1, 4)), np.zeros((4, 2)))
