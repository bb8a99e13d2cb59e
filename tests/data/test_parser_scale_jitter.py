# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The parser's training scale jitter (`aug_scale_min` / `aug_scale_max`)."""

import numpy as np
import pytest
import tensorflow as tf

from official.vision.ops import preprocess_ops

from mnc_tf.configs import data as data_config
from mnc_tf.data import parser as parser_lib
from mnc_tf.ops import mask_crop_targets as mct

import mnc_data_testutil

HEIGHT, WIDTH = 40, 60
PADDED = [64, 64]
CROP = 24
# (y0, x0, h, w) of the instances in original pixels; each is a solid block
# of its own colour on a black image.
BLOCKS = ((2, 3, 20, 25), (15, 30, 22, 28), (0, 0, 12, 10))
COLOURS = np.array([[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.2, 0.2, 1.0]])


def _decoded(seed=0):
  masks = np.zeros((len(BLOCKS), HEIGHT, WIDTH), np.uint8)
  image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
  boxes = []
  for k, (y0, x0, h, w) in enumerate(BLOCKS):
    masks[k, y0:y0 + h, x0:x0 + w] = 1
    boxes.append([y0 / HEIGHT, x0 / WIDTH, (y0 + h) / HEIGHT,
                  (x0 + w) / WIDTH])
  for k, (y0, x0, h, w) in enumerate(BLOCKS):  # Later blocks on top.
    image[y0:y0 + h, x0:x0 + w] = np.round(255 * COLOURS[k])
    masks[:k, y0:y0 + h, x0:x0 + w] = 0
  return mnc_data_testutil.decoded_example(
      image, masks, boxes, [1, 2, 4],
      flip_seed=tf.constant([seed, 11], tf.int64))


def _parser(crop_size=0, low=1.3, high=1.8, **kwargs):
  kwargs.setdefault('padded_size', PADDED)
  return parser_lib.Parser(scale=HEIGHT, max_size=WIDTH, max_num_instances=5,
                           mask_crop_size=crop_size, mean=(0.0, 0.0, 0.0),
                           stddev=(1.0, 1.0, 1.0), aug_scale_min=low,
                           aug_scale_max=high, **kwargs)


def _expected_boxes(image_info, flipped):
  """NumPy: the instances' boxes after scale, offset and window clipping."""
  info = np.asarray(image_info, np.float64)
  boxes = np.array([[y0, x0, y0 + h, x0 + w] for y0, x0, h, w in BLOCKS],
                   np.float64)
  if flipped:
    boxes[:, [1, 3]] = WIDTH - boxes[:, [3, 1]]
  boxes = boxes * np.tile(info[2], 2) - np.tile(info[3], 2)
  boxes = np.clip(boxes, 0, np.tile(info[1], 2))
  keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
  return boxes[keep], np.flatnonzero(keep)


def _eroded(mask):
  """bool [H, W]: the pixels whose 3 x 3 neighbourhood is all in `mask`."""
  padded = np.pad(mask.astype(bool), 1)
  inner = np.ones(mask.shape, bool)
  for dy in range(3):
    for dx in range(3):
      inner &= padded[dy:dy + mask.shape[0], dx:dx + mask.shape[1]]
  return inner


def test_boxes_masks_and_pixels_stay_together():
  """Every jittered instance: its box (NumPy), mask and colour coincide."""
  factors, offsets, dropped = [], [], 0
  for seed in range(24):
    image, labels = _parser().parse_fn(is_training=True)(_decoded(seed))
    image, info = image.numpy(), labels['image_info'].numpy()
    assert image.shape == (*PADDED, 3)
    factor = info[2]  # scale = HEIGHT, max_size = WIDTH: base factor 1
    factors.append(factor[0])
    offsets.append(info[3])
    np.testing.assert_allclose(factor[0], factor[1], atol=0.03)
    assert 1.3 - 0.03 <= factor[0] <= 1.8 + 0.03
    np.testing.assert_array_equal(info[1], [HEIGHT, WIDTH])  # the window
    scaled = np.round(np.array([HEIGHT, WIDTH]) * info[2])
    assert np.all(info[3] >= 0) and np.all(info[3] <= scaled - info[1])
    # Padding beyond the window stays zero.
    assert not image[HEIGHT:].any() and not image[:, WIDTH:].any()

    # The flip is a coin of its own: one of the two NumPy answers must hold.
    n = int(labels['gt_num_instances'])
    got = labels['gt_boxes'].numpy()[:n]
    matches = [c for c in (_expected_boxes(info, f) for f in (False, True))
               if c[0].shape == got.shape and np.allclose(c[0], got,
                                                          atol=1e-3)]
    assert matches, (seed, got, info)
    expected, kept = matches[0]
    n = int(labels['gt_num_instances'])
    assert n == len(kept)
    dropped += len(BLOCKS) - n
    np.testing.assert_allclose(labels['gt_boxes'].numpy()[:n], expected,
                               atol=1e-3)
    np.testing.assert_array_equal(labels['gt_classes'].numpy()[:n],
                                  np.array([1, 2, 4])[kept])
    masks = labels['gt_masks'].numpy()
    for row, k in enumerate(kept):
      ys, xs = np.nonzero(masks[row])
      if not len(ys):
        continue  # hidden under a later block inside the window
      # The mask lies inside its box and shows its block's colour.
      y0, x0, y1, x1 = expected[row]
      assert ys.min() >= np.floor(y0) and ys.max() < np.ceil(y1)
      assert xs.min() >= np.floor(x0) and xs.max() < np.ceil(x1)
      # Inside the mask (away from the bilinear edge blend) every pixel has
      # the block's colour.
      inner = _eroded(masks[row])
      if inner.any():
        colour_ok = np.all(np.abs(image[inner] - COLOURS[k]) < 0.1, axis=-1)
        assert colour_ok.mean() > 0.98, (seed, k, colour_ok.mean())
  assert max(factors) - min(factors) > 0.2  # the draws spread
  assert any((o > 0).any() for o in offsets)
  assert dropped > 0  # some window cut the small top-left block away


def test_crops_follow_the_jittered_full_image_masks():
  """Same seed: the crops path agrees with the full-image path's masks."""
  for seed in range(8):
    data = _decoded(seed)
    image_full, full = _parser(0).parse_fn(is_training=True)(data)
    image_crop, ours = _parser(CROP).parse_fn(is_training=True)(data)
    np.testing.assert_array_equal(image_full, image_crop)
    np.testing.assert_array_equal(full['gt_boxes'], ours['gt_boxes'])
    n = int(full['gt_num_instances'])
    expected = mct.crop_instance_masks(
        full['gt_masks'][:n], mct.crop_boxes(full['gt_boxes'][:n], PADDED),
        CROP).numpy() / 255.0
    got = ours['gt_masks']['crops'].numpy()[:n] / 255.0
    # Nearest-resized vs bilinear-sampled originals: edges move < 1 pixel.
    assert np.mean(np.abs(got - expected) < 0.5) > 0.97, seed
    assert ours['gt_masks']['crops'].numpy()[n:].max(initial=0) == 0


def test_seeded_draws_repeat_and_evaluation_is_not_jittered():
  data = _decoded(5)
  first = _parser().parse_fn(is_training=True)(data)
  again = _parser().parse_fn(is_training=True)(data)
  np.testing.assert_array_equal(first[0], again[0])
  np.testing.assert_array_equal(first[1]['image_info'],
                                again[1]['image_info'])
  image, labels = _parser().parse_fn(is_training=False)(data)
  np.testing.assert_allclose(labels['image_info'].numpy(),
                             [[HEIGHT, WIDTH], [HEIGHT, WIDTH], [1, 1],
                              [0, 0]])


def test_without_jitter_the_image_is_model_gardens_resize():
  """Bounds 1 / 1: exactly Model Garden's resize-and-pad, offset 0."""
  data = _decoded(3)
  parser = parser_lib.Parser(scale=60, max_size=90, padded_size=[96, 96],
                             max_num_instances=5, aug_rand_hflip=False)
  image, labels = parser.parse_fn(is_training=True)(data)
  normalized = preprocess_ops.normalize_image(
      data['image'], data_config.MEAN_NORM, data_config.STDDEV_NORM)
  expected, info = preprocess_ops.resize_and_crop_image(
      normalized, [60, 90], padded_size=[96, 96], keep_aspect_ratio=False)
  np.testing.assert_allclose(image, expected, atol=1e-6)
  np.testing.assert_allclose(labels['image_info'], info, atol=1e-6)


def test_oriented_padding_keeps_its_shape_under_jitter():
  parser = _parser(padded_size=None, oriented_padding=True, size_divisor=16)
  for seed in range(4):
    image, _ = parser.parse_fn(is_training=True)(_decoded(seed))
    assert image.shape == (48, 64, 3)


def test_bad_bounds_are_refused_and_the_config_reaches_the_parser():
  for low, high in ((0.0, 1.0), (1.5, 1.2), (-1.0, 2.0)):
    with pytest.raises(ValueError, match='aug_scale_min'):
      _parser(low=low, high=high)
  params = data_config.Parser(scale=HEIGHT, max_size=WIDTH,
                              padded_size=PADDED, max_num_instances=5,
                              aug_scale_min=2.0, aug_scale_max=2.0)
  _, labels = parser_lib.Parser.from_config(params).parse_fn(True)(
      _decoded(1))
  np.testing.assert_allclose(labels['image_info'][2], [2.0, 2.0])
