# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Feature masking (paper §3.3, Eq. 3): F_mask = F_RoI * M, M resized to F."""

import tensorflow as tf
import tf_keras


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class FeatureMasking(tf_keras.layers.Layer):
  """Multiplies RoI features by their stage-2 masks (differentiable in both).

  The m x m mask is resized bilinearly (half-pixel centres) to the P x P RoI
  grid; for m = 2P this is the exact 2 x 2 average of the mask cells.
  """

  def call(self, features, masks):
    """Masks.

    Args:
      features: `[B, K, P, P, C]` RoI features.
      masks: `[B, K, m, m]` mask probabilities.

    Returns:
      `[B, K, P, P, C]` masked features.
    """
    side = features.shape[2]
    mask_size = masks.shape[-1]
    if side is None or mask_size is None:
      raise ValueError('FeatureMasking needs static RoI and mask sizes, got '
                       f'{features.shape} and {masks.shape}.')
    shape = tf.shape(masks)
    flat = tf.reshape(masks, [-1, mask_size, mask_size, 1])
    if mask_size != side:
      flat = tf.image.resize(flat, [side, side], method='bilinear')
    resized = tf.reshape(flat, [shape[0], shape[1], side, side, 1])
    return features * tf.cast(resized, features.dtype)
