# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Samples the RoIs of stages 2 and 3 in training (paper §6: 64 per image).

Unlike Model Garden's `ROISampler`, which returns gathered boxes, this layer
returns *indices* (so the model gathers its differentiable boxes itself) and a
validity flag per sample.  Matching is by box IoU with the valid gt boxes.
Sampling is py-faster-rcnn's: up to K * fg_fraction random foreground boxes,
the rest random background; when there are too few candidates the remaining
slots are padding, flagged invalid.  (Model Garden's static `BoxSampler` fills
missing slots with index 0 whatever it is, which breaks the foreground quota
and cannot be told apart from a real sample.)
"""

import tensorflow as tf
import tf_keras

from mnc_tf.ops import targets


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class RoiSampler(tf_keras.layers.Layer):
  """Balanced foreground / background sampling of candidate boxes."""

  def __init__(self, num_samples=64, fg_fraction=0.25, fg_iou_threshold=0.5,
               bg_iou_high_threshold=0.5, bg_iou_low_threshold=0.0, **kwargs):
    """Initializes the layer.

    Args:
      num_samples: K, samples per image.
      fg_fraction: at most this fraction of foreground samples.
      fg_iou_threshold: IoU >= this is foreground.
      bg_iou_high_threshold: background IoU is < this ...
      bg_iou_low_threshold: ... and >= this.
      **kwargs: base layer arguments.
    """
    super().__init__(**kwargs)
    self._config_dict = {
        'num_samples': int(num_samples),
        'fg_fraction': float(fg_fraction),
        'fg_iou_threshold': float(fg_iou_threshold),
        'bg_iou_high_threshold': float(bg_iou_high_threshold),
        'bg_iou_low_threshold': float(bg_iou_low_threshold),
    }

  def call(self, boxes, box_valid, gt_boxes, gt_valid):
    """Samples.

    Args:
      boxes: `[B, N, 4]` candidate boxes (only their values are used).
      box_valid: bool `[B, N]`.
      gt_boxes: `[B, M, 4]`.
      gt_valid: bool `[B, M]`.

    Returns:
      indices: int32 `[B, K]` into the candidates.
      valid: bool `[B, K]`; False where fewer than K candidates exist.
    """
    cfg = self._config_dict
    max_iou, _ = targets.match_boxes(tf.stop_gradient(boxes), gt_boxes,
                                     gt_valid)
    has_gt = tf.reduce_any(gt_valid, axis=-1, keepdims=True)
    positive = box_valid & has_gt & (max_iou >= cfg['fg_iou_threshold'])
    negative = (box_valid & (max_iou < cfg['bg_iou_high_threshold'])
                & (max_iou >= cfg['bg_iou_low_threshold'])
                & tf.logical_not(positive))
    return sample_balanced(positive, negative, cfg['num_samples'],
                           cfg['fg_fraction'])

  def is_foreground(self, max_iou):
    """bool: a sample with this best-gt box IoU counts as foreground."""
    return max_iou >= self._config_dict['fg_iou_threshold']

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config


def sample_balanced(positive, negative, num_samples, fg_fraction):
  """Random balanced sampling with static shapes.

  Args:
    positive: bool `[B, N]` foreground candidates.
    negative: bool `[B, N]` background candidates (disjoint from positive).
    num_samples: K.
    fg_fraction: at most int(K * fg_fraction) foreground samples.

  Returns:
    indices: int32 `[B, K]`, foreground samples first, then background, then
      padding (index 0).
    valid: bool `[B, K]`, False for padding.
  """
  num_candidates = positive.shape[1]
  quota = int(num_samples * fg_fraction)
  priority = tf.random.uniform(tf.shape(positive))
  pos_key = tf.where(positive, priority, -tf.ones_like(priority))
  neg_key = tf.where(negative, priority, -tf.ones_like(priority))
  pos_top = tf.math.top_k(pos_key, k=min(max(quota, 1), num_candidates)).indices
  neg_top = tf.math.top_k(neg_key, k=min(num_samples, num_candidates)).indices
  num_pos = tf.minimum(tf.reduce_sum(tf.cast(positive, tf.int32), axis=1),
                       quota)[:, None]
  num_neg = tf.minimum(tf.reduce_sum(tf.cast(negative, tf.int32), axis=1),
                       num_samples - num_pos[:, 0])[:, None]
  slot = tf.range(num_samples)[None, :]
  from_pos = slot < num_pos
  neg_slot = slot - num_pos
  from_neg = tf.logical_not(from_pos) & (neg_slot < num_neg)
  pos_pick = tf.gather(pos_top, tf.clip_by_value(
      slot, 0, pos_top.shape[1] - 1) + tf.zeros_like(num_pos), batch_dims=1)
  neg_pick = tf.gather(neg_top, tf.clip_by_value(
      neg_slot, 0, neg_top.shape[1] - 1), batch_dims=1)
  indices = tf.where(from_pos, pos_pick,
                     tf.where(from_neg, neg_pick, tf.zeros_like(neg_pick)))
  return indices, from_pos | from_neg
