# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Stage 2 (and 4): class-agnostic mask regression (paper §3.2)."""

import tensorflow as tf
import tf_keras


def _flatten_rois(features):
  """`[B, K, P, P, C]` -> `[B, K, P * P * C]` (static P, C required)."""
  dims = features.shape[2:]
  if not dims.is_fully_defined():
    raise ValueError(f'RoI features need static P, P, C, got {features.shape}.')
  shape = tf.shape(features)
  return tf.reshape(features, [shape[0], shape[1], dims.num_elements()])


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class MaskHead(tf_keras.layers.Layer):
  """fc `fc_dim` + ReLU, then fc m^2: one m x m mask logit map per RoI."""

  def __init__(self, mask_size=28, fc_dim=256, kernel_regularizer=None,
               **kwargs):
    """Initializes the head.

    Args:
      mask_size: m.
      fc_dim: hidden width (256).
      kernel_regularizer: optional regularizer of the fc kernels.
      **kwargs: base layer arguments.
    """
    super().__init__(**kwargs)
    self._config_dict = {
        'mask_size': int(mask_size),
        'fc_dim': int(fc_dim),
    }
    reg = tf_keras.regularizers.get(kernel_regularizer)
    self._config_dict['kernel_regularizer'] = (
        tf_keras.regularizers.serialize(reg) if reg else None)
    regularizer = reg
    self._hidden = tf_keras.layers.Dense(
        fc_dim, activation='relu', kernel_initializer='he_normal',
        kernel_regularizer=regularizer, name='mask_fc')
    self._logits = tf_keras.layers.Dense(
        mask_size * mask_size,
        kernel_initializer=tf_keras.initializers.RandomNormal(stddev=0.001),
        kernel_regularizer=regularizer, name='mask_pred')

  def call(self, roi_features):
    """Predicts masks.

    Args:
      roi_features: `[B, K, P, P, C]` (14 x 14 pooled RoI-warp features).

    Returns:
      `[B, K, m, m]` mask logits (sigmoid gives the mask probabilities).
    """
    x = self._hidden(_flatten_rois(roi_features))
    x = self._logits(x)
    shape = tf.shape(x)
    size = self._config_dict['mask_size']
    return tf.reshape(x, [shape[0], shape[1], size, size])

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config
