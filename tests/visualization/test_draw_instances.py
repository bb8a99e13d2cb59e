# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the prediction drawing."""
import numpy as np
import pytest
import tensorflow as tf

from official.vision.ops import preprocess_ops
from mnc_tf.visualization import draw_instances as draw_lib


def _scene():
  rng = np.random.default_rng(1)
  image = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
  masks = np.zeros((3, 60, 80), np.uint8)
  masks[0, 30:50, 5:25] = 1
  masks[1, 30:50, 40:70] = 1
  masks[2, 0:10, 0:10] = 1
  boxes = np.array([[30, 5, 49, 24], [30, 40, 49, 69], [0, 0, 9, 9]],
                   np.float32)
  return image, boxes, np.array([1, 2, 3]), np.array([0.9, 0.8, 0.1]), masks


def test_colors_are_distinct():
  colors = draw_lib.instance_colors(100).astype(int)
  distances = np.abs(colors[:, None] - colors[None]).sum(-1)
  assert np.all(distances[~np.eye(100, dtype=bool)] > 0)
  # Consecutive instances are far apart.
  assert np.all(np.abs(colors[1:] - colors[:-1]).sum(-1) > 100)


def test_masks_blend_with_instance_colours_and_low_scores_are_skipped():
  image, boxes, classes, scores, masks = _scene()
  out = draw_lib.draw_instances(image, boxes, classes, scores, masks,
                                class_names={1: 'square', 2: 'disc'},
                                min_score=0.5, mask_alpha=0.5,
                                draw_boxes=False)
  assert out.shape == image.shape and out.dtype == np.uint8
  colors = draw_lib.instance_colors(2).astype(np.float32)
  # Interior mask pixels, away from the label at the top-left corner.
  for k, (rows, cols) in enumerate([(slice(44, 50), slice(5, 25)),
                                    (slice(44, 50), slice(40, 70))]):
    expected = np.round(0.5 * image[rows, cols] + 0.5 * colors[k])
    np.testing.assert_array_equal(out[rows, cols], expected)
  # Instance 2 scores 0.1 < 0.5: its pixels are untouched.
  np.testing.assert_array_equal(out[0:10, 0:10], image[0:10, 0:10])
  # Outside every mask and label: untouched.
  np.testing.assert_array_equal(out[12:28], image[12:28])


def test_labels_and_boxes_are_drawn():
  image, boxes, classes, scores, masks = _scene()
  plain = draw_lib.draw_instances(image, boxes, classes, scores, masks,
                                  draw_boxes=False)
  blank = np.zeros_like(image)
  labelled = draw_lib.draw_instances(blank, boxes[:1], classes[:1],
                                     scores[:1], None, {1: 'square'})
  color = draw_lib.instance_colors(1)[0]
  # The label box sits at the top-left of the instance box, filled with the
  # instance colour, with dark text inside.
  label_region = labelled[30:38, 5:25].reshape(-1, 3)
  assert np.sum(np.all(label_region == color, axis=1)) > 20
  assert np.sum(np.all(label_region == 0, axis=1)) > 3
  # Box outline on the bottom edge.
  np.testing.assert_array_equal(labelled[49, 10], color)
  assert not np.array_equal(plain[30:38, 5:25], labelled[30:38, 5:25])


def test_denormalize_inverts_model_garden_normalization():
  image = np.random.default_rng(2).integers(0, 256, (5, 7, 3), np.uint8)
  normalized = preprocess_ops.normalize_image(tf.constant(image)).numpy()
  np.testing.assert_array_equal(draw_lib.denormalize_image(normalized), image)


def test_shape_errors():
  image, boxes, classes, scores, masks = _scene()
  with pytest.raises(ValueError, match='masks must be'):
    draw_lib.draw_instances(image, boxes, classes, scores, masks[:, :10])
  with pytest.raises(ValueError, match='classes'):
    draw_lib.draw_instances(image, boxes, classes[:2], scores, masks)
  with pytest.raises(ValueError, match=r'\[H, W, 3\]'):
    draw_lib.draw_instances(image[..., 0], boxes, classes, scores)
