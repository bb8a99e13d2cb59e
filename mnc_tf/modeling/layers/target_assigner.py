# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Training-target layers that own their thresholds (paper §6).

As Model Garden's `roi_sampler.py` owns the IoU thresholds of its sampling,
these layers own those of target assignment, so the model only passes boxes
and ground truth:

- `RpnTargetAssigner`: stage-1 anchor labels and box deltas, and the original
  release's MIX_INDEX (the anchors of the sampled proposals join the loss).
- `CascadeTargetAssigner`: the targets of one mask / classifier stage pair
  (stages 2-3 or 4-5) for its boxes.

The computations are the plain functions of `mnc_tf.ops.targets`; every
input is treated as a constant (targets carry no gradient).
"""

import tensorflow as tf
import tf_keras

from mnc_tf.ops import box_utils
from mnc_tf.ops import targets as targets_lib


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class RpnTargetAssigner(tf_keras.layers.Layer):
  """Stage-1 targets: sampled anchor labels and box deltas (+ MIX_INDEX)."""

  def __init__(self, fg_iou_threshold=0.7, bg_iou_threshold=0.3,
               num_samples=256, fg_fraction=0.5, mix_proposal_anchors=True,
               mix_background_box_targets=False, allowed_border=0.0,
               **kwargs):
    """Initializes the layer.

    Args:
      fg_iou_threshold: anchors with IoU >= this are positive.
      bg_iou_threshold: anchors with IoU < this are negative.
      num_samples: anchors sampled per image.
      fg_fraction: at most this fraction of them positive.
      mix_proposal_anchors: `mix` labels the anchors of the proposals sampled
        for stages 2-3 (the original release's MIX_INDEX); False: `mix`
        returns its targets unchanged.
      mix_background_box_targets: anchors `mix` makes negative keep a box
        target they had (False: the original release, no box target).
      allowed_border: anchors crossing the image border by more than this
        many pixels are ignored (label -1, never sampled, never a gt's best
        anchor, not mixed): the original release's `anchor_target_layer.py`
        (`allowed_border` 0).  None: every anchor is labelled.
      **kwargs: base layer arguments.
    """
    super().__init__(**kwargs)
    self._config_dict = {
        'allowed_border': (None if allowed_border is None
                           else float(allowed_border)),
        'fg_iou_threshold': float(fg_iou_threshold),
        'bg_iou_threshold': float(bg_iou_threshold),
        'num_samples': int(num_samples),
        'fg_fraction': float(fg_fraction),
        'mix_proposal_anchors': bool(mix_proposal_anchors),
        'mix_background_box_targets': bool(mix_background_box_targets),
    }

  @property
  def mixes_proposal_anchors(self):
    return self._config_dict['mix_proposal_anchors']

  def anchors_inside(self, anchors, image_shape):
    """bool `[B, h * w * A]`: anchors `allowed_border` allows (all if None)."""
    border = self._config_dict['allowed_border']
    flat = tf.reshape(tf.cast(anchors, tf.float32), [-1, 4])
    if border is None or image_shape is None:
      batch = 1 if image_shape is None else tf.shape(image_shape)[0]
      return tf.ones([batch, tf.shape(flat)[0]], tf.bool)
    return box_utils.boxes_inside(flat, image_shape, border)

  def call(self, anchors, gt_boxes, gt_valid, image_shape=None):
    """Labels and samples the anchors.

    Args:
      anchors: `[h, w, 4A]` anchors (ymin, xmin, ymax, xmax).
      gt_boxes: `[B, M, 4]` gt boxes, padding rows -1.
      gt_valid: bool `[B, M]`.
      image_shape: `[B, 2]` (height, width) of the scaled image, for
        `allowed_border`; None: every anchor is labelled.

    Returns:
      score_targets: int32 `[B, h, w, A]` (1 / 0 sampled, -1 ignored).
      box_targets: float32 `[B, h, w, 4A]`, zero where not positive.
    """
    cfg = self._config_dict
    inside = None
    if cfg['allowed_border'] is not None and image_shape is not None:
      inside = self.anchors_inside(anchors, image_shape)
    return targets_lib.rpn_targets(
        anchors, gt_boxes, gt_valid, cfg['fg_iou_threshold'],
        cfg['bg_iou_threshold'], cfg['num_samples'], cfg['fg_fraction'],
        inside=inside)

  def mix(self, score_targets, box_targets, anchors, gt_boxes, gt_valid,
          anchor_index, sample_is_fg, from_proposal, image_shape=None):
    """MIX_INDEX: see `targets.mix_proposal_anchors` (identity when off).

    Anchors `allowed_border` excludes (with `image_shape`) are not mixed.
    """
    if not self.mixes_proposal_anchors:
      return score_targets, box_targets
    inside = None
    if self._config_dict['allowed_border'] is not None and (
        image_shape is not None):
      inside = self.anchors_inside(anchors, image_shape)
    return targets_lib.mix_proposal_anchors(
        score_targets, box_targets, anchors, gt_boxes, gt_valid, anchor_index,
        sample_is_fg, from_proposal,
        background_box_targets=self._config_dict['mix_background_box_targets'],
        inside=inside)

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class CascadeTargetAssigner(tf_keras.layers.Layer):
  """Targets of a mask stage (2 / 4) and its classifier stage (3 / 5)."""

  def __init__(self, mask_fg_iou_threshold=0.5, box_fg_iou_threshold=0.5,
               mask_level_iou_threshold=0.5, mask_binarize_threshold=0.4,
               box_regression_weights=(10.0, 10.0, 5.0, 5.0),
               mask_target_threshold=0.4, **kwargs):
    """Initializes the layer.

    Args:
      mask_fg_iou_threshold: a box whose best gt box IoU is > this gets a
        stage-2 mask target.
      box_fg_iou_threshold: box-level positives of stage 3: box IoU >= this.
      mask_level_iou_threshold: mask-level positives of stage 3 are box-level
        positives whose stage-2 mask has mask IoU >= this with the gt mask.
      mask_binarize_threshold: stage-2 masks are binarized at this value to
        measure that IoU.
      box_regression_weights: (wy, wx, wh, ww) scaling of the stage-3 box
        deltas ((10, 10, 5, 5): the release's target stds 0.1, 0.1, 0.2, 0.2).
      mask_target_threshold: the gt mask resampled into a box is a
        foreground target pixel where >= this (the release: 0.4).
      **kwargs: base layer arguments.
    """
    super().__init__(**kwargs)
    self._config_dict = {
        'mask_fg_iou_threshold': float(mask_fg_iou_threshold),
        'box_fg_iou_threshold': float(box_fg_iou_threshold),
        'mask_level_iou_threshold': float(mask_level_iou_threshold),
        'mask_binarize_threshold': float(mask_binarize_threshold),
        'box_regression_weights': [float(w) for w in box_regression_weights],
        'mask_target_threshold': float(mask_target_threshold),
    }

  @property
  def box_regression_weights(self):
    """(wy, wx, wh, ww) that encode the targets and decode the predictions."""
    return list(self._config_dict['box_regression_weights'])

  def call(self, boxes, sample_valid, mask_probs, gt):
    """Assigns the targets of one stage pair.

    Args:
      boxes: `[B, K, 4]` boxes entering the stage (constants).
      sample_valid: bool `[B, K]`, False for padding rows.
      mask_probs: `[B, K, m, m]` the stage's mask predictions (constants).
      gt: dict of `boxes` `[B, M, 4]` (padding -1), `valid` bool `[B, M]`,
        `class_indices` int32 `[B, M]` (1..N, -1 padding), `masks` (uint8
        `[B, M, H, W]` full-image masks, or a
        `mask_crop_targets.InstanceMaskCrops` of the parser's per-instance
        crops) and `areas` `[B, M]` (pixel counts); see
        `MncModel.ground_truth`.

    Returns:
      dict of `targets.cascade_targets` (float32 whatever the model's dtype).
    """
    cfg = self._config_dict
    return targets_lib.cascade_targets(
        tf.cast(tf.stop_gradient(boxes), tf.float32), sample_valid,
        tf.cast(tf.stop_gradient(mask_probs), tf.float32),
        gt['boxes'], gt['valid'], gt['class_indices'], gt['masks'],
        gt['areas'], mask_size=mask_probs.shape[-1],
        mask_fg_iou_threshold=cfg['mask_fg_iou_threshold'],
        box_fg_iou_threshold=cfg['box_fg_iou_threshold'],
        mask_level_iou_threshold=cfg['mask_level_iou_threshold'],
        mask_binarize_threshold=cfg['mask_binarize_threshold'],
        box_regression_weights=cfg['box_regression_weights'],
        mask_target_threshold=cfg['mask_target_threshold'])

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config
