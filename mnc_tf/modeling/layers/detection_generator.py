# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Inference post-processing layer: per-class NMS, mask voting, top-D (§6)."""

import tensorflow as tf
import tf_keras

from mnc_tf.ops import mask_voting


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class DetectionGenerator(tf_keras.layers.Layer):
  """Turns the cascade's candidates into the final detections of each image."""

  def __init__(self, score_threshold=0.0, nms_iou_threshold=0.3,
               max_detections_per_class=100, max_num_detections=100,
               use_mask_voting=True, voting_iou_threshold=0.5,
               voting_resolution=56, max_voting_members=100, **kwargs):
    """Initializes the layer; arguments as `mask_voting.postprocess_image`."""
    super().__init__(**kwargs)
    self._config_dict = {
        'score_threshold': float(score_threshold),
        'nms_iou_threshold': float(nms_iou_threshold),
        'max_detections_per_class': int(max_detections_per_class),
        'max_num_detections': int(max_num_detections),
        'use_mask_voting': bool(use_mask_voting),
        'voting_iou_threshold': float(voting_iou_threshold),
        'voting_resolution': int(voting_resolution),
        'max_voting_members': int(max_voting_members),
    }

  def call(self, boxes, masks, scores):
    """Post-processes a batch.

    Args:
      boxes: `[B, K, 4]` candidate boxes (network-input pixels).
      masks: `[B, K, m, m]` candidate mask probabilities in their boxes.
      scores: `[B, K, N]` foreground class scores; zero for invalid
        candidates.

    Returns:
      dict of `mask_voting.postprocess_image` outputs with a batch dimension.
    """
    cfg = self._config_dict
    num = cfg['max_num_detections']
    res = cfg['voting_resolution']
    spec = {
        'num_detections': tf.TensorSpec([], tf.int32),
        'detection_boxes': tf.TensorSpec([num, 4], tf.float32),
        'detection_class_indices': tf.TensorSpec([num], tf.int32),
        'detection_scores': tf.TensorSpec([num], tf.float32),
        'detection_masks': tf.TensorSpec([num, res, res], tf.float32),
        'detection_mask_boxes': tf.TensorSpec([num, 4], tf.float32),
    }
    return tf.map_fn(
        lambda args: mask_voting.postprocess_image(*args, **cfg),
        (tf.cast(boxes, tf.float32), tf.cast(masks, tf.float32),
         tf.cast(scores, tf.float32)),
        fn_output_signature=spec)

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config
