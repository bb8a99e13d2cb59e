# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Feature masking (paper §3.3, Eq. 3): F_mask = F_RoI * M, M resized to F."""

import numpy as np
import tensorflow as tf
import tf_keras


def bilinear_resize_matrix(in_size, out_size):
  """`[out, in]` weights of a 1-D bilinear resize with half-pixel centres.

  Output sample i reads input position (i + 0.5) in / out - 0.5, clamped to
  [0, in - 1], interpolated linearly: `tf.image.resize(method='bilinear')`
  (antialias off) along one axis, as a matrix, so the 2-D resize is
  `A @ M @ A^T` in the dtype of M (tf.image.resize always returns float32).
  """
  position = (np.arange(out_size) + 0.5) * in_size / out_size - 0.5
  position = np.clip(position, 0.0, in_size - 1)
  low = np.floor(position).astype(int)
  high = np.minimum(low + 1, in_size - 1)
  frac = position - low
  weights = np.zeros([out_size, in_size])
  weights[np.arange(out_size), low] += 1.0 - frac
  weights[np.arange(out_size), high] += frac
  return weights


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
    masks = tf.cast(masks, features.dtype)
    if mask_size != side:
      weights = tf.constant(bilinear_resize_matrix(mask_size, side),
                            features.dtype)
      masks = tf.einsum('pm,bkmn,qn->bkpq', weights, masks, weights)
    return features * masks[..., None]
