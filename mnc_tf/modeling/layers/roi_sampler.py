# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Samples the RoIs of stages 2 and 3 in training (paper §6: 64 per image).

Unlike Model Garden's `ROISampler`, which returns gathered boxes, this layer
returns *indices* (so the model gathers its differentiable boxes itself) and a
validity flag per sample.  Matching is by box IoU with the valid gt boxes;
sampling is Model Garden's `BoxSampler` (static-shape balanced sampler).
"""

import tensorflow as tf
import tf_keras

from mnc_tf.ops import targets
from official.vision.modeling.layers import box_sampler


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
    self._sampler = box_sampler.BoxSampler(num_samples, fg_fraction)

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
    ignored = tf.logical_not(positive | negative)
    indices = self._sampler(positive, negative, ignored)
    candidate = positive | negative
    valid = tf.gather(candidate, indices, batch_dims=1)
    return indices, valid

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config
