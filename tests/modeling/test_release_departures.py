# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Smaller settings of the original release, each a config field, checked
against NumPy or hand-made references: the mask target threshold, the
proposal minimum size in original pixels, the MIX background box targets
under the default RPN box loss.  (Bias decay: tests/tasks/test_weight_decay.py;
border anchors: test_border_anchors.py.)"""
import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.configs import model as model_cfg
from mnc_tf.losses import mnc_losses
from mnc_tf.modeling.layers import proposals
from mnc_tf.ops import box_utils
from mnc_tf.ops import targets


def test_defaults_are_the_original_release():
  config = model_cfg.Mnc()
  assert config.cascade_target_assigner.mask_target_threshold == 0.4
  assert config.proposal_generator.min_size == 16.0
  assert config.proposal_generator.min_size_in_original_pixels
  assert config.proposal_generator.box_gradient_inside_image_only
  assert config.rpn_target_assigner.allowed_border == 0.0
  assert model_cfg.MncLosses().bias_weight_decay


def numpy_bilinear(image, y, x):
  y0, x0 = int(np.floor(y)), int(np.floor(x))
  fy, fx = y - y0, x - x0
  pixel = lambda r, c: float(image[r, c])
  return ((1 - fy) * (1 - fx) * pixel(y0, x0) + (1 - fy) * fx * pixel(y0, x0 + 1)
          + fy * (1 - fx) * pixel(y0 + 1, x0) + fy * fx * pixel(y0 + 1, x0 + 1))


@pytest.mark.parametrize('threshold', [0.4, 0.5])
def test_mask_targets_binarized_at_the_threshold(threshold):
  rng = np.random.RandomState(0)
  mask = (rng.rand(24, 24) > 0.5).astype(np.uint8)
  box = np.array([3.3, 4.1, 17.7, 19.4], np.float32)
  m = 7
  got = targets.crop_mask_targets(
      tf.constant(mask[None, None]), tf.zeros([1, 1], tf.int32),
      tf.constant(box[None, None]), m, threshold=threshold).numpy()[0, 0]
  # The RoI-warp grid: pixel-index position y1 + (i + 0.5) h / m - 0.5.
  ys = box[0] + (np.arange(m) + 0.5) * (box[2] - box[0]) / m - 0.5
  xs = box[1] + (np.arange(m) + 0.5) * (box[3] - box[1]) / m - 0.5
  samples = np.array([[numpy_bilinear(mask, y, x) for x in xs] for y in ys])
  assert np.any((samples >= 0.4) & (samples < 0.5))  # the two differ here
  np.testing.assert_array_equal(got, (samples >= threshold).astype(np.float32))


def kept_anchors(in_original_pixels, image_scale):
  """Anchors of sides 6, 10, 20 (one location); which survive min_size 16."""
  anchors = box_utils.generate_anchors(16, 16, 16, [6.0, 10.0, 20.0], [1.0])
  layer = proposals.ProposalGenerator(
      pre_nms_top_k=3, num_proposals=3, nms_iou_threshold=1.0, min_size=16.0,
      min_size_in_original_pixels=in_original_pixels)
  _, _, valid, index = layer(
      tf.constant([[[[3.0, 2.0, 1.0]]]]), tf.zeros([1, 1, 1, 12]), anchors,
      tf.constant([[64.0, 64.0]]), training=True,
      image_scale=tf.constant([[image_scale, image_scale]]))
  return sorted(int(i) for i, v in zip(index.numpy()[0], valid.numpy()[0])
                if v)


def test_proposal_min_size_in_original_pixels():
  # The 16 x 16 content (anchors clipped to it: sides 6, 10, 16).  At image
  # scale 0.5 the release keeps sides >= 16 x 0.5 = 8.
  assert kept_anchors(True, 0.5) == [1, 2]
  assert kept_anchors(True, 0.25) == [0, 1, 2]   # >= 4
  assert kept_anchors(True, 1.0) == [2]          # >= 16
  assert kept_anchors(False, 0.5) == [2]         # network-input pixels


@pytest.mark.parametrize('loss_type', ['smooth_l1_per_sampled_anchor',
                                       'huber_per_positive'])
def test_background_box_targets_are_regressed(loss_type):
  """A negative anchor carrying a box target (MIX_INDEX with
  `mix_background_box_targets`) joins the RPN box loss of both forms."""
  scores = np.array([[[[1, 0, 0, -1]]]], np.int32)   # 4 anchors, 1 location
  boxes = np.zeros([1, 1, 1, 16], np.float32)
  preds = np.zeros([1, 1, 1, 16], np.float32)
  boxes[..., 0:4] = [0.5, 0.0, 0.0, 0.0]   # positive
  boxes[..., 4:8] = [0.0, 0.3, 0.0, 0.0]   # negative with a kept target
  kwargs = dict(loss_type=loss_type, sigma=3.0, huber_delta=1.0 / 9)
  loss = lambda s, b: float(mnc_losses.rpn_box_loss(
      tf.constant(preds), tf.constant(b), tf.constant(s), **kwargs))
  cleared = boxes.copy()
  cleared[..., 4:8] = 0.0
  if loss_type == 'smooth_l1_per_sampled_anchor':
    # smooth-L1_3: |x| - 1 / (2 * 9) for |x| >= 1/9; / 3 sampled anchors.
    smooth = lambda x: abs(x) - 0.5 / 9.0
    assert loss(scores, boxes) == pytest.approx(
        (smooth(0.5) + smooth(0.3)) / 3, rel=1e-6)
    assert loss(scores, cleared) == pytest.approx(smooth(0.5) / 3, rel=1e-6)
  # Either form: the negative anchor's deltas get a gradient only with it.
  for targets_, regressed in ((boxes, True), (cleared, False)):
    outputs = tf.constant(preds)
    with tf.GradientTape() as tape:
      tape.watch(outputs)
      value = mnc_losses.rpn_box_loss(outputs, tf.constant(targets_),
                                      tf.constant(scores), **kwargs)
    grad = tape.gradient(value, outputs).numpy()[0, 0, 0]
    assert np.any(grad[0:4]) and bool(np.any(grad[4:8])) == regressed
    assert not np.any(grad[8:])
