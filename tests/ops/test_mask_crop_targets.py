# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Instance mask crops against the full-image path (`mnc_tf.ops.targets`)."""

import numpy as np
import tensorflow as tf

from mnc_tf.ops import mask_crop_targets as mct
from mnc_tf.ops import targets

HEIGHT, WIDTH = 120, 200
CROP = 112
M = 28


def _ellipse_masks(rng, num, min_radius, max_radius):
  """Notched, rotated ellipses (some cut by the image border) + tight boxes."""
  yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
  masks = np.zeros((num, HEIGHT, WIDTH), np.uint8)
  boxes = np.zeros((num, 4), np.float32)
  for k in range(num):
    cy, cx = rng.uniform(0.1 * HEIGHT, 0.9 * HEIGHT), rng.uniform(
        0.1 * WIDTH, 0.9 * WIDTH)
    ry, rx = rng.uniform(min_radius, max_radius, 2)
    angle = rng.uniform(0, np.pi)
    dy, dx = yy - cy, xx - cx
    u = (dy * np.cos(angle) + dx * np.sin(angle)) / ry
    v = (-dy * np.sin(angle) + dx * np.cos(angle)) / rx
    mask = (u * u + v * v <= 1) & ~((np.abs(u) < 0.3) & (v > 0.2))
    masks[k] = mask
    ys, xs = np.nonzero(mask)
    boxes[k] = [ys.min(), xs.min(), ys.max() + 1, xs.max() + 1]
  return masks, boxes


def _jittered(rng, gt_boxes, num):
  picked = gt_boxes[rng.integers(0, len(gt_boxes), num)]
  size = np.stack([picked[:, 2] - picked[:, 0], picked[:, 3] - picked[:, 1]] * 2,
                  axis=1)
  return (picked + rng.uniform(-0.25, 0.25, (num, 4)) * size).astype(
      np.float32)


def test_crop_on_the_pixel_grid_is_the_mask():
  """C = box side, one sample per cell: the samples are pixel centres."""
  rng = np.random.default_rng(0)
  masks = (rng.random((2, 30, 40)) < 0.5).astype(np.uint8)
  boxes = np.array([[4, 6, 20, 22], [10, 0, 26, 16]], np.float32)
  crops = mct.crop_instance_masks(masks, boxes, 16, supersample=1).numpy()
  np.testing.assert_array_equal(crops[0], masks[0, 4:20, 6:22] * 255)
  np.testing.assert_array_equal(crops[1], masks[1, 10:26, 0:16] * 255)


def test_coverage_of_a_half_plane():
  """Supersampled cells hold the covered fraction of a straight edge."""
  mask = np.zeros((1, 64, 64), np.uint8)
  mask[0, :, :37] = 1  # Columns 0..36 on: the bilinear edge sits at x = 37.
  crops = mct.crop_instance_masks(mask, np.array([[0, 32, 8, 40]], np.float32),
                                  4, supersample=8).numpy()[0] / 255.0
  # Cells of 2 px: [32,34] [34,36] full, [36,38] half, [38,40] empty (rows
  # 1.. only: the first row's cell reaches above the image, which is empty).
  np.testing.assert_allclose(crops[1:], [[1.0, 1.0, 0.5, 0.0]] * 3,
                             atol=0.02)
  np.testing.assert_allclose(crops[0], [0.75, 0.75, 0.375, 0.0], atol=0.02)


def test_targets_and_mask_iou_agree_with_the_full_image_path():
  rng = np.random.default_rng(3)
  agree, iou_diffs, area_errors = [], [], []
  for radii in ((4, 12), (10, 40), (30, 90)):
    masks, gt_boxes = _ellipse_masks(rng, 6, *radii)
    boxes = _jittered(rng, gt_boxes, 96)
    gt_masks = tf.constant(masks[None])
    gt_b, b = tf.constant(gt_boxes[None]), tf.constant(boxes[None])
    _, gt_index = targets.match_boxes(b, gt_b, tf.ones([1, 6], tf.bool))
    full = targets.crop_mask_targets(gt_masks, gt_index, b, M)
    crops = mct.crop_instance_masks(
        masks, mct.crop_boxes(gt_boxes, (HEIGHT, WIDTH)), CROP)[None]
    ours = mct.crop_targets_from_instance_crops(crops, gt_b, gt_index, b, M,
                                                (HEIGHT, WIDTH))
    agree.append(np.mean(full.numpy() == ours.numpy()))
    full_areas = targets.gt_mask_areas(gt_masks)
    crop_areas = mct.instance_crop_areas(crops, gt_b, (HEIGHT, WIDTH))
    area_errors.append(np.max(np.abs(crop_areas / full_areas - 1)))
    # Stage-2 predictions: the truth, blurred by noise.
    probs = tf.clip_by_value(
        full * 0.8 + 0.1 + rng.normal(0, 0.3, full.shape).astype(np.float32),
        0, 1)
    iou_full = targets.mask_iou(
        probs, full, b, tf.gather(full_areas, gt_index, batch_dims=1))
    iou_ours = targets.mask_iou(
        probs, ours, b, tf.gather(crop_areas, gt_index, batch_dims=1))
    iou_diffs.append(np.abs(iou_full - iou_ours).ravel())
  iou_diffs = np.concatenate(iou_diffs)
  assert min(agree) >= 0.99, agree
  assert max(area_errors) < 0.01, area_errors
  assert np.mean(iou_diffs <= 0.02) >= 0.99, np.sort(iou_diffs)[-5:]
  assert iou_diffs.max() <= 0.05, iou_diffs.max()


def test_bad_boxes_give_zero_crops_and_zero_targets():
  masks = np.ones((4, 20, 30), np.uint8)
  gt_boxes = np.array([[5, 5, 5, 15],           # zero height
                       [50, 50, 60, 60],         # outside the image
                       [np.nan, 0, 10, 10],      # not finite
                       [2, 3, 12, 13]], np.float32)
  crop_boxes = mct.crop_boxes(gt_boxes, (20, 30))
  crops = mct.crop_instance_masks(masks, crop_boxes, 8)
  assert crops.numpy()[:3].max() == 0
  assert crops.numpy()[3].max() == 255
  boxes = np.array([[[4, 4, 6, 16], [48, 48, 62, 62], [0, 0, 10, 10],
                     [2, 3, 12, 13], [np.nan, 3, 12, 13]]], np.float32)
  gt_index = tf.constant([[0, 1, 2, 3, 3]])
  soft = mct.sample_instance_crops(crops[None], gt_boxes[None], gt_index,
                                   boxes, 7, (20, 30))
  assert np.isfinite(soft.numpy()).all()
  assert soft.numpy()[0, [0, 1, 2, 4]].max() == 0
  assert soft.numpy()[0, 3].min() > 0.5
  areas = mct.instance_crop_areas(crops[None], gt_boxes[None], (20, 30))
  np.testing.assert_allclose(areas.numpy()[0, :3], 0)
  assert np.isfinite(areas.numpy()).all()


def test_cascade_targets_take_instance_crops_in_place_of_full_masks():
  """`targets.cascade_targets` with `InstanceMaskCrops` ~ with full masks."""
  rng = np.random.default_rng(5)
  masks, gt_boxes = _ellipse_masks(rng, 4, 10, 40)
  boxes = _jittered(rng, gt_boxes, 32)[None]
  gt_b = np.concatenate([gt_boxes, -np.ones((2, 4), np.float32)])[None]
  gt_valid = tf.constant([[True] * 4 + [False] * 2])
  full_masks = np.concatenate([masks, np.zeros((2, HEIGHT, WIDTH), np.uint8)])
  crops = mct.crop_instance_masks(
      full_masks, mct.crop_boxes(gt_b[0], (HEIGHT, WIDTH)), CROP)[None]
  wrapped = mct.InstanceMaskCrops(crops, gt_b, (HEIGHT, WIDTH))
  probs = tf.constant(rng.random((1, 32, M, M)), tf.float32)
  classes = tf.constant([[1, 2, 3, 1, -1, -1]])
  common = dict(boxes=tf.constant(boxes), sample_valid=tf.ones([1, 32], bool),
                mask_probs=probs, gt_boxes=tf.constant(gt_b),
                gt_valid=gt_valid, gt_class_indices=classes, mask_size=M)
  full = targets.cascade_targets(
      gt_masks=tf.constant(full_masks[None]),
      gt_areas=targets.gt_mask_areas(tf.constant(full_masks[None])), **common)
  ours = targets.cascade_targets(gt_masks=wrapped, gt_areas=wrapped.areas(),
                                 **common)
  assert np.mean(full['mask_targets'].numpy()
                 == ours['mask_targets'].numpy()) >= 0.99
  np.testing.assert_allclose(ours['mask_iou'], full['mask_iou'], atol=0.02)
  for key in ('mask_weights', 'cls_box_targets', 'box_targets', 'box_iou'):
    np.testing.assert_array_equal(ours[key], full[key])
  np.testing.assert_allclose(wrapped.areas()[0, 4:], 0)
