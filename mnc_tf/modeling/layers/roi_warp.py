# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Keras layer around the differentiable RoI warp (paper §4, Eq. 6-9)."""

import tensorflow as tf
import tf_keras

from mnc_tf.ops.roi_warp import IMPLEMENTATIONS
from mnc_tf.ops.roi_warp import roi_warp


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class RoiWarp(tf_keras.layers.Layer):
  """Warps boxes of a feature map to S x S (optionally max pooled to P x P).

  Differentiable w.r.t. the features and the box coordinates.
  """

  def __init__(self, output_size=28, spatial_scale=1.0 / 16, pooled_size=0,
               implementation='auto', **kwargs):
    """Initializes the layer.

    Args:
      output_size: S, side of the bilinear sampling grid.
      spatial_scale: feature-map pixels per input pixel (1/16).
      pooled_size: 0 for none, else the fused max pool's output side P.
      implementation: one of `mnc_tf.ops.roi_warp.IMPLEMENTATIONS`.
      **kwargs: base layer arguments.
    """
    super().__init__(**kwargs)
    if implementation not in IMPLEMENTATIONS:
      raise ValueError(f'implementation must be one of {IMPLEMENTATIONS}, '
                       f'got {implementation!r}.')
    self._config_dict = {
        'output_size': int(output_size),
        'spatial_scale': float(spatial_scale),
        'pooled_size': int(pooled_size or 0),
        'implementation': implementation,
    }

  def call(self, features, boxes):
    """Warps.

    Args:
      features: `[B, H, W, C]` feature map.
      boxes: `[B, K, 4]` (ymin, xmin, ymax, xmax) in input-image pixels.

    Returns:
      `[B, K, S, S, C]` or `[B, K, P, P, C]`.
    """
    cfg = self._config_dict
    out = roi_warp(
        features, boxes, output_size=cfg['output_size'],
        spatial_scale=cfg['spatial_scale'], pooled_size=cfg['pooled_size'],
        implementation=cfg['implementation'])
    side = cfg['pooled_size'] or cfg['output_size']
    out.set_shape([features.shape[0], boxes.shape[1], side, side,
                   features.shape[-1]])
    return out

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config
