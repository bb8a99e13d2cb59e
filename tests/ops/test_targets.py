# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Training targets against NumPy references and hand-computed values."""
import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.ops import box_utils
from mnc_tf.ops import targets


def np_iou(a, b):
  ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
  iw = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
  inter = ih * iw
  union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
  return inter / union


def np_encode(box, ref, weights=(1.0, 1.0, 1.0, 1.0)):
  h, w = box[2] - box[0], box[3] - box[1]
  rh, rw = ref[2] - ref[0], ref[3] - ref[1]
  dy = (box[0] + h / 2 - ref[0] - rh / 2) / rh
  dx = (box[1] + w / 2 - ref[1] - rw / 2) / rw
  return np.array([dy * weights[0], dx * weights[1],
                   np.log(h / rh) * weights[2], np.log(w / rw) * weights[3]])


def test_rpn_targets_match_numpy_labels_when_all_anchors_fit_the_batch():
  anchors = box_utils.generate_anchors(64, 64, 16, [16.0, 32.0], [1.0])
  flat = anchors.numpy().reshape(-1, 4)
  gt = np.array([[[8, 8, 40, 40], [36, 20, 60, 52], [-1, -1, -1, -1]]],
                np.float32)
  valid = np.array([[True, True, False]])
  # num_samples > number of anchors: every labelled anchor is sampled.
  scores, deltas = targets.rpn_targets(anchors, gt, valid, 0.7, 0.3,
                                       num_samples=1000, fg_fraction=0.5)
  scores = scores.numpy().reshape(-1)
  deltas = deltas.numpy().reshape(-1, 4)
  ious = np.array([[np_iou(a, g) for g in gt[0, :2]] for a in flat])
  best = ious.max(axis=1)
  want = np.where(best >= 0.7, 1, np.where(best < 0.3, 0, -1))
  want[ious.argmax(axis=0)] = 1  # every gt's best anchor is positive
  np.testing.assert_array_equal(scores, want)
  for k in np.where(want == 1)[0]:
    np.testing.assert_allclose(deltas[k], np_encode(gt[0, ious[k].argmax()],
                                                    flat[k]), atol=1e-4)
  np.testing.assert_array_equal(deltas[want != 1], 0.0)


def test_rpn_targets_sample_at_most_num_samples_with_fg_fraction():
  anchors = box_utils.generate_anchors(64, 64, 16, [16.0, 32.0], [0.5, 1, 2])
  gt = np.array([[[0, 0, 64, 64], [8, 8, 40, 40]]], np.float32)
  scores, _ = targets.rpn_targets(anchors, gt, np.array([[True, True]]),
                                  0.3, 0.1, num_samples=8, fg_fraction=0.25)
  scores = scores.numpy()
  assert (scores >= 0).sum() == 8
  assert 1 <= (scores == 1).sum() <= 2


def test_rpn_targets_for_image_without_instances_are_all_negative():
  anchors = box_utils.generate_anchors(32, 32, 16, [16.0], [1.0])
  gt = -np.ones([1, 2, 4], np.float32)
  scores, deltas = targets.rpn_targets(anchors, gt, np.zeros([1, 2], bool),
                                       num_samples=256)
  np.testing.assert_array_equal(scores.numpy(), 0)
  np.testing.assert_array_equal(deltas.numpy(), 0.0)


def np_crop(mask, box, m):
  """Bilinear samples of the RoI-warp grid, zero outside [0, H-1]."""
  height, width = mask.shape
  out = np.zeros([m, m])
  for i in range(m):
    y = box[0] + (i + 0.5) * (box[2] - box[0]) / m - 0.5
    for j in range(m):
      x = box[1] + (j + 0.5) * (box[3] - box[1]) / m - 0.5
      if not (0 <= y <= height - 1 and 0 <= x <= width - 1):
        continue
      y0, x0 = int(np.floor(y)), int(np.floor(x))
      y1, x1 = min(y0 + 1, height - 1), min(x0 + 1, width - 1)
      fy, fx = y - y0, x - x0
      out[i, j] = ((1 - fy) * (1 - fx) * mask[y0, x0] + (1 - fy) * fx
                   * mask[y0, x1] + fy * (1 - fx) * mask[y1, x0]
                   + fy * fx * mask[y1, x1])
  return out


def test_crop_masks_match_numpy_reference():
  rng = np.random.RandomState(3)
  masks = np.zeros([2, 2, 40, 50], np.uint8)
  yy, xx = np.mgrid[:40, :50]
  masks[0, 0] = (yy - 15) ** 2 + (xx - 20) ** 2 < 100
  masks[0, 1] = (yy > 20) & (xx > 30)
  masks[1, 0] = rng.rand(40, 50) > 0.5
  boxes = np.array([[[5.0, 10.0, 25.0, 30.0], [18.0, 25.0, 40.0, 50.0],
                     [0.0, 0.0, 7.0, 9.0]],
                    [[3.5, 4.25, 30.75, 44.5], [0, 0, 40, 50],
                     [10, 10, 12, 13]]], np.float32)
  index = np.array([[0, 1, 0], [0, 0, 1]], np.int32)
  got = targets.crop_masks(masks, index, boxes, 12).numpy()
  binary = targets.crop_mask_targets(masks, index, boxes, 12).numpy()
  for b in range(2):
    for k in range(3):
      want = np_crop(masks[b, index[b, k]].astype(np.float32), boxes[b, k], 12)
      np.testing.assert_allclose(got[b, k], want, atol=1e-5,
                                 err_msg=f'{b},{k}')
      clear = np.abs(want - 0.5) > 1e-4
      np.testing.assert_array_equal(binary[b, k][clear],
                                    (want >= 0.5)[clear])
  # Hand check: a box exactly on the rectangle of masks[0, 1] is all ones.
  full = targets.crop_mask_targets(masks, np.array([[1]] * 2, np.int32),
                                   np.array([[[21, 31, 40, 50]]] * 2,
                                            np.float32), 7).numpy()
  np.testing.assert_array_equal(full[0, 0], np.ones([7, 7]))


def test_mask_iou_hand_computed():
  probs = np.array([[[[0.9, 0.9], [0.1, 0.5]]]], np.float32)
  crop = np.array([[[[1.0, 0.0], [0.0, 1.0]]]], np.float32)
  boxes = np.array([[[0.0, 0.0, 10.0, 10.0]]], np.float32)
  # Cells of 25 px: prediction 3 cells = 75 px, intersection 2 cells = 50 px,
  # gt instance 60 px (some outside the box): IoU = 50 / (75 + 60 - 50).
  got = targets.mask_iou(probs, crop, boxes, np.array([[60.0]]), 0.4).numpy()
  np.testing.assert_allclose(got, [[50.0 / 85.0]], rtol=1e-6)
  # Binarization is >= threshold: 0.5 >= 0.5 keeps that cell.
  got = targets.mask_iou(probs, crop, boxes, np.array([[60.0]]), 0.5).numpy()
  np.testing.assert_allclose(got, [[50.0 / 85.0]], rtol=1e-6)
  got = targets.mask_iou(probs, crop, boxes, np.array([[60.0]]), 0.6).numpy()
  np.testing.assert_allclose(got, [[25.0 / 85.0]], rtol=1e-6)


def test_cascade_targets_hand_made_case():
  size = 64
  gt_boxes = np.array([[[0, 0, 32, 32], [32, 32, 64, 64], [-1, -1, -1, -1]]],
                      np.float32)
  gt_valid = np.array([[True, True, False]])
  gt_classes = np.array([[2, 1, -1]], np.int32)
  gt_masks = np.zeros([1, 3, size, size], np.uint8)
  gt_masks[0, 0, :32, :32] = 1
  gt_masks[0, 1, 32:, 32:] = 1
  boxes = np.array([[[0, 0, 32, 32],      # = gt 0, perfect mask
                     [32, 32, 64, 60],    # gt 1 at IoU 0.875, empty mask
                     [0, 0, 64, 64],      # IoU 0.25 with both: background
                     [0, 0, 32, 32]]],    # padding sample
                   np.float32)
  valid = np.array([[True, True, True, False]])
  m = 8
  probs = np.zeros([1, 4, m, m], np.float32)
  probs[0, 0] = 0.9
  probs[0, 2] = 0.9
  out = targets.cascade_targets(
      boxes, valid, probs, gt_boxes, gt_valid, gt_classes, gt_masks,
      targets.gt_mask_areas(gt_masks), m,
      box_regression_weights=(10.0, 10.0, 5.0, 5.0))
  out = {k: v.numpy() for k, v in out.items()}
  np.testing.assert_allclose(out['box_iou'][0], [1.0, 0.875, 0.25, 1.0],
                             rtol=1e-5)
  np.testing.assert_array_equal(out['mask_weights'][0], [1, 1, 0, 0])
  np.testing.assert_array_equal(out['cls_box_targets'][0], [2, 1, 0, 0])
  np.testing.assert_array_equal(out['cls_mask_targets'][0], [2, 0, 0, 0])
  np.testing.assert_array_equal(out['sample_weights'][0], [1, 1, 1, 0])
  np.testing.assert_allclose(out['mask_iou'][0, :2], [1.0, 0.0], atol=1e-6)
  np.testing.assert_array_equal(out['mask_targets'][0, 0], np.ones([m, m]))
  np.testing.assert_allclose(
      out['box_targets'][0, 1],
      np_encode(gt_boxes[0, 1], boxes[0, 1], (10, 10, 5, 5)), atol=1e-4)
  np.testing.assert_array_equal(out['box_targets'][0, 2:], 0.0)


def test_cascade_targets_without_instances():
  boxes = np.array([[[0, 0, 10, 10], [5, 5, 20, 20]]], np.float32)
  out = targets.cascade_targets(
      boxes, np.array([[True, True]]), np.zeros([1, 2, 4, 4], np.float32),
      -np.ones([1, 1, 4], np.float32), np.array([[False]]),
      -np.ones([1, 1], np.int32), np.zeros([1, 1, 32, 32], np.uint8),
      np.zeros([1, 1], np.float32), 4)
  for key in ('mask_weights', 'cls_box_targets', 'cls_mask_targets',
              'box_targets', 'mask_iou'):
    assert np.all(np.isfinite(out[key].numpy()))
    np.testing.assert_array_equal(out[key].numpy(), 0)


def test_mix_proposal_anchors_labels_the_sampled_proposals_anchors():
  anchors = box_utils.generate_anchors(32, 32, 16, [16.0], [1.0])  # 2x2x1
  flat = anchors.numpy().reshape(-1, 4)   # centres (8, 8), (8, 24), ...
  gt = np.array([[[0, 0, 14, 14], [-1, -1, -1, -1]]], np.float32)
  valid = np.array([[True, False]])
  scores = -np.ones([1, 2, 2, 1], np.int32)
  scores[0, 1, 1, 0] = 1            # an existing positive stays
  boxes = np.zeros([1, 2, 2, 4], np.float32)
  # Samples: anchor 3 foreground, anchor 1 background, anchor 2 from an
  # invalid sample (gt row / padding): untouched.
  new_scores, new_boxes = targets.mix_proposal_anchors(
      scores, boxes, anchors, gt, valid,
      anchor_index=np.array([[3, 1, 2]], np.int32),
      sample_is_fg=np.array([[True, False, True]]),
      sample_valid=np.array([[True, True, False]]))
  np.testing.assert_array_equal(new_scores.numpy().ravel(), [-1, 0, -1, 1])
  got = new_boxes.numpy().reshape(-1, 4)
  np.testing.assert_allclose(got[3], np_encode(gt[0, 0], flat[3]), atol=1e-5)
  np.testing.assert_array_equal(got[:3], 0.0)


@pytest.mark.parametrize('keep', [False, True])
def test_mix_index_background_anchors_get_no_box_target(keep):
  # The original release (anchor_target_layer.py, MIX_INDEX) sets the label
  # of a sampled background proposal's anchor to 0, and a label-0 anchor
  # has box inside weight 0: no box target even if it was positive.
  anchors = box_utils.generate_anchors(32, 32, 16, [16.0], [1.0])
  gt = np.array([[[0, 0, 14, 14]]], np.float32)
  scores = np.array([[[[1], [-1]], [[0], [-1]]]], np.int32)
  boxes = np.zeros([1, 2, 2, 4], np.float32)
  boxes[0, 0, 0] = [0.1, 0.2, -0.3, 0.4]      # anchor 0: a positive ...
  new_scores, new_boxes = targets.mix_proposal_anchors(
      scores, boxes, anchors, gt, np.array([[True]]),
      anchor_index=np.array([[0]], np.int32),       # ... sampled as bg
      sample_is_fg=np.array([[False]]), sample_valid=np.array([[True]]),
      background_box_targets=keep)
  want_boxes = boxes.reshape(-1, 4).copy()
  if not keep:
    want_boxes[0] = 0.0
  np.testing.assert_array_equal(new_scores.numpy().ravel(), [0, -1, 0, -1])
  np.testing.assert_array_equal(new_boxes.numpy().reshape(-1, 4), want_boxes)


def test_crop_masks_of_non_finite_boxes_are_zero():
  masks = np.ones([1, 1, 20, 20], np.uint8)
  boxes = np.array([[[2.0, 2.0, 10.0, 10.0], [np.nan, 0.0, 5.0, 5.0],
                     [0.0, np.inf, 5.0, 5.0]]], np.float32)
  got = targets.crop_masks(masks, np.zeros([1, 3], np.int32), boxes, 6).numpy()
  np.testing.assert_array_equal(got[0, 0], 1.0)
  assert not np.any(got[0, 1:])
