# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The parser's per-instance mask crops (`Parser(mask_crop_size=C)`)."""

import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.configs import data as data_config
from mnc_tf.data import parser as parser_lib
from mnc_tf.ops import mask_crop_targets as mct

import mnc_data_testutil

HEIGHT, WIDTH = 40, 60
PADDED = [64, 64]
CROP = 24


def _decoded(seed=0):
  rng = np.random.default_rng(seed)
  masks = np.zeros((3, HEIGHT, WIDTH), np.uint8)
  boxes = []
  for k, (y0, x0, h, w) in enumerate(((2, 3, 20, 25), (15, 30, 22, 28),
                                      (0, 0, 12, 10))):
    block = rng.random((h, w)) < 0.7
    block[0, :] = block[-1, :] = True  # Tight box = the block.
    block[:, 0] = block[:, -1] = True
    masks[k, y0:y0 + h, x0:x0 + w] = block
    boxes.append([y0 / HEIGHT, x0 / WIDTH, (y0 + h) / HEIGHT,
                  (x0 + w) / WIDTH])
  return mnc_data_testutil.decoded_example(
      rng.integers(0, 255, (HEIGHT, WIDTH, 3)).astype(np.uint8), masks, boxes,
      [1, 2, 4])


def _parser(crop_size, scale=HEIGHT, max_size=WIDTH, padded=None):
  return parser_lib.Parser(scale=scale, max_size=max_size,
                           padded_size=padded or PADDED, max_num_instances=5,
                           mask_crop_size=crop_size)


def test_crops_are_the_crops_of_the_full_image_masks():
  """At scale 1 the crops are those of the full-image path's masks."""
  flips = set()
  for seed in range(6):
    data = dict(_decoded(), flip_seed=tf.constant([seed, 3], tf.int64))
    image_full, full = _parser(0).parse_fn(is_training=True)(data)
    image_crop, ours = _parser(CROP).parse_fn(is_training=True)(data)
    np.testing.assert_array_equal(image_full, image_crop)
    np.testing.assert_array_equal(full['gt_boxes'], ours['gt_boxes'])
    flips.add(bool(image_full[0, 0, 0] != _parser(0).parse_fn(False)(
        data)[0][0, 0, 0]))
    crops = ours['gt_masks']['crops'].numpy()
    assert crops.shape == (5, CROP, CROP) and crops.dtype == np.uint8
    expected = mct.crop_instance_masks(
        full['gt_masks'][:3], mct.crop_boxes(full['gt_boxes'][:3], PADDED),
        CROP).numpy()
    assert np.abs(crops[:3].astype(int) - expected).max() <= 1
    assert crops[3:].max() == 0
  assert flips == {True, False}


def test_crops_at_another_scale_hold_the_same_masks():
  """Upsampled x1.5: the crops still describe the resized masks."""
  data = dict(_decoded(), flip_seed=tf.constant([1, 1], tf.int64))
  _, full = _parser(0, 60, 90, [96, 96]).parse_fn(is_training=True)(data)
  _, ours = _parser(CROP, 60, 90, [96, 96]).parse_fn(is_training=True)(data)
  expected = mct.crop_instance_masks(
      full['gt_masks'][:3], mct.crop_boxes(full['gt_boxes'][:3], [96, 96]),
      CROP).numpy() / 255.0
  got = ours['gt_masks']['crops'].numpy()[:3] / 255.0
  # Nearest-resized vs bilinear-sampled originals: edges move < 1 pixel.
  assert np.mean(np.abs(got - expected) < 0.5) > 0.97


def test_evaluation_keeps_full_image_masks():
  _, labels = _parser(CROP).parse_fn(is_training=False)(_decoded())
  assert labels['gt_masks'].shape == (5, *PADDED)


def test_config_reaches_the_parser_and_rejects_negative_sizes():
  params = data_config.Parser(scale=HEIGHT, max_size=WIDTH,
                              padded_size=PADDED, max_num_instances=5,
                              mask_crop_size=CROP)
  _, labels = parser_lib.Parser.from_config(params).parse_fn(True)(
      dict(_decoded(), flip_seed=tf.constant([0, 0], tf.int64)))
  assert labels['gt_masks']['crops'].shape == (5, CROP, CROP)
  with pytest.raises(ValueError, match='mask_crop_size'):
    _parser(-1)
