# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Anchors crossing the image border, as the original release treats them.

`anchor_target_layer.py` labels only the anchors inside the image
(`allowed_border` 0: x1 >= 0, y1 >= 0, x2 < W, y2 < H in its inclusive pixel
coordinates, i.e. ymin >= 0, xmin >= 0, ymax <= H, xmax <= W here); the
rest are -1, never a gt's best anchor and never mixed.  `proposal_layer.py`'s
backward zeroes the box gradient of a proposal whose anchor crosses the
border or whose decoded box was clipped.  A hand-made image: content 48 x 40
in a 64 x 64 padded input (the border is the content's, not the padding's).
"""
import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.modeling.layers import proposals
from mnc_tf.modeling.layers import target_assigner
from mnc_tf.ops import box_utils

PADDED, CONTENT = 64, (48.0, 40.0)     # (height, width) of the content
ANCHORS = box_utils.generate_anchors(PADDED, PADDED, 16, [16.0, 32.0], [1.0])
FLAT = ANCHORS.numpy().reshape(-1, 4)
IMAGE_SHAPE = tf.constant([CONTENT])
# One gt box in the content's bottom-right corner: its best anchor overall
# (32 x 32 centred at (40, 40)) crosses the right border (xmax 56 > 40).
GT = np.array([[[26.0, 18.0, 48.0, 40.0]]], np.float32)


def numpy_inside(boxes, height, width):
  return ((boxes[:, 0] >= 0) & (boxes[:, 1] >= 0) & (boxes[:, 2] <= height)
          & (boxes[:, 3] <= width))


def numpy_iou(boxes, gt):
  tl = np.maximum(boxes[:, :2], gt[:2])
  br = np.minimum(boxes[:, 2:], gt[2:])
  inter = np.prod(np.clip(br - tl, 0, None), axis=1)
  area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
  return inter / (area(boxes) + area(gt) - inter)


def labels(allowed_border):
  layer = target_assigner.RpnTargetAssigner(
      num_samples=10000, allowed_border=allowed_border)
  scores, _ = layer(ANCHORS, tf.constant(GT), tf.constant([[True]]),
                    IMAGE_SHAPE)
  return scores.numpy().reshape(-1)


def test_anchors_outside_the_image_are_ignored():
  inside = numpy_inside(FLAT, *CONTENT)
  assert 0 < inside.sum() < len(FLAT)
  iou = numpy_iou(FLAT, GT[0, 0])
  best_overall = int(np.argmax(iou))
  best_inside = int(np.argmax(np.where(inside, iou, -1)))
  assert not inside[best_overall] and best_inside != best_overall
  got = labels(allowed_border=0.0)
  np.testing.assert_array_equal(got[~inside], -1)
  # Inside: the release's labels (every anchor sampled): >= 0.7 or the gt's
  # best inside anchor positive, < 0.3 negative, the rest ignored.
  want = np.where(iou < 0.3, 0, -1)
  want[iou >= 0.7] = 1
  want[best_inside] = 1
  np.testing.assert_array_equal(got[inside], want[inside])
  # Without the border rule the outside anchors are labelled, and the gt's
  # best anchor is the one across the border.
  free = labels(allowed_border=None)
  assert np.any(free[~inside] >= 0) and free[best_overall] == 1


def test_mixed_anchors_stay_inside():
  layer = target_assigner.RpnTargetAssigner(num_samples=10000,
                                            allowed_border=0.0)
  scores, boxes = layer(ANCHORS, tf.constant(GT), tf.constant([[True]]),
                        IMAGE_SHAPE)
  inside = numpy_inside(FLAT, *CONTENT)
  outside = [int(i) for i in np.nonzero(~inside)[0][:2]]
  in_bg = int(np.nonzero(inside & (labels(0.0) == 0))[0][0])
  mixed, _ = layer.mix(scores, boxes, ANCHORS, tf.constant(GT),
                       tf.constant([[True]]),
                       tf.constant([outside + [in_bg]], tf.int32),
                       tf.constant([[True, False, True]]),
                       tf.constant([[True, True, True]]), IMAGE_SHAPE)
  mixed = mixed.numpy().reshape(-1)
  np.testing.assert_array_equal(mixed[outside], -1)
  assert mixed[in_bg] == 1


def proposal_gradient(inside_only, deltas):
  layer = proposals.ProposalGenerator(
      pre_nms_top_k=len(FLAT), num_proposals=len(FLAT),
      nms_iou_threshold=1.0, min_size=0.0,
      box_gradient_inside_image_only=inside_only)
  deltas = tf.constant(deltas.reshape(1, 4, 4, 8))
  scores = tf.constant(np.linspace(1, 2, len(FLAT)).reshape(1, 4, 4, 2),
                       tf.float32)
  with tf.GradientTape() as tape:
    tape.watch(deltas)
    rois, _, valid, anchor_index = layer(scores, deltas, ANCHORS, IMAGE_SHAPE,
                                         training=True)
    loss = tf.reduce_sum(rois * tf.constant([1.0, 2.0, 3.0, 4.0]))
  grad = tape.gradient(loss, deltas).numpy().reshape(-1, 4)
  assert bool(tf.reduce_all(valid))
  assert sorted(anchor_index.numpy()[0]) == list(range(len(FLAT)))
  return grad


@pytest.mark.parametrize('inside_only', [True, False])
def test_box_gradient_of_border_proposals(inside_only):
  deltas = np.zeros([len(FLAT), 4], np.float32)
  anchor_inside = numpy_inside(FLAT, *CONTENT)
  # Two inside anchors: one shifted within the image, one pushed across the
  # left border by its deltas (x centre shift -1.5 of its width).
  moved, pushed = [int(i) for i in np.nonzero(anchor_inside)[0][:2]]
  deltas[moved] = [0.05, 0.05, 0.0, 0.0]
  deltas[pushed] = [0.0, -1.5, 0.0, 0.0]
  decoded = proposals.decode_unclipped(tf.constant(deltas[None]),
                                       ANCHORS).numpy()[0]
  box_inside = numpy_inside(decoded, *CONTENT)
  assert box_inside[moved] and not box_inside[pushed]
  grad = proposal_gradient(inside_only, deltas)
  keep = anchor_inside & box_inside
  assert keep.sum() >= 2 and (~keep).sum() >= 4
  assert np.all(np.abs(grad[keep]) > 0)
  if inside_only:   # the release: all four deltas of the others get 0
    np.testing.assert_array_equal(grad[~keep], 0.0)
  else:             # only the clipped coordinates stop
    assert np.all(np.any(grad[~keep] != 0, axis=1))
