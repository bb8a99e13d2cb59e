# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Pasting box-relative masks into images: hand values and NumPy reference."""
import numpy as np
import tensorflow as tf

from mnc_tf.ops import mask_paste
from tests.ops.test_mask_voting import np_read


def test_paste_constant_mask_fills_exactly_the_box_pixels():
  masks = np.ones([1, 5, 5], np.float32)
  out = mask_paste.paste_masks(masks, [[10, 20, 30, 40]], 50, 60,
                               threshold=0.4).numpy()
  want = np.zeros([50, 60], np.uint8)
  want[10:30, 20:40] = 1
  assert out.dtype == np.uint8
  np.testing.assert_array_equal(out[0], want)


def test_paste_matches_numpy_reference_and_binarizes_at_threshold():
  rng = np.random.RandomState(0)
  masks = rng.uniform(size=[3, 6, 6]).astype(np.float32)
  boxes = np.array([[3.3, 5.7, 21.2, 17.9], [-4, -2, 12, 9],
                    [10, 10, 40, 33]], np.float32)
  soft = mask_paste.paste_masks(masks, boxes, 30, 28).numpy()
  want = np.array([[[np_read(masks[n], boxes[n], y + 0.5, x + 0.5)
                     for x in range(28)] for y in range(30)]
                   for n in range(3)])
  np.testing.assert_allclose(soft, want, atol=1e-5)
  binary = mask_paste.paste_masks(masks, boxes, 30, 28, threshold=0.4).numpy()
  clear = np.abs(want - 0.4) > 1e-4
  np.testing.assert_array_equal(binary[clear], (want >= 0.4)[clear])


def test_original_image_detections_maps_boxes_and_masks():
  # Original 50 x 40 image scaled by 2: network boxes are twice as large.
  info = tf.constant([[[50, 40], [100, 80], [2, 2], [0, 0]]], tf.float32)
  outputs = {
      'num_detections': tf.constant([1]),
      'detection_boxes': tf.constant([[[20.0, 10.0, 60.0, 50.0],
                                       [0.0, 0.0, 0.0, 0.0]]]),
      'detection_mask_boxes': tf.constant([[[20.0, 10.0, 60.0, 50.0],
                                            [0.0, 0.0, 0.0, 0.0]]]),
      'detection_classes': tf.constant([[7, 0]]),
      'detection_scores': tf.constant([[0.8, 0.0]]),
      'detection_masks': tf.ones([1, 2, 4, 4]),
  }
  out = mask_paste.original_image_detections(outputs, info)
  np.testing.assert_allclose(out['detection_boxes'].numpy(),
                             [[10, 5, 30, 25], [0, 0, 0, 0]])
  masks = out['detection_masks'].numpy()
  assert masks.shape == (2, 50, 40) and masks.dtype == np.uint8
  want = np.zeros([50, 40], np.uint8)
  want[10:30, 5:25] = 1
  np.testing.assert_array_equal(masks[0], want)
  np.testing.assert_array_equal(masks[1], 0)   # past num_detections
  np.testing.assert_array_equal(out['detection_classes'].numpy(), [7, 0])
