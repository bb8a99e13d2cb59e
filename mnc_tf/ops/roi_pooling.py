# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Max pooling of per-RoI feature grids (the RoI warp's pool, stage 3's pool)."""

import tensorflow as tf


def max_pool_rois(features, pooled_size):
  """`[B, K, s, s, C]` -> `[B, K, p, p, C]`: max over s/p x s/p windows.

  `tf.nn.max_pool2d` on `[B*K, s, s, C]` (much faster on CPU than
  `reduce_max` over a 7-d reshape); its gradient goes to the first maximum
  of each window (row-major), like the custom op's argmax.

  Args:
    features: `[B, K, s, s, C]`, s static.
    pooled_size: p, a divisor of s.

  Returns:
    `[B, K, p, p, C]` (`features` itself when p == s).

  Raises:
    ValueError: s unknown or not a multiple of p.
  """
  side = features.shape[2]
  if side == pooled_size:
    return features
  if side is None or side % pooled_size:
    raise ValueError(f'RoI side {side} must be a multiple of pooled_size '
                     f'{pooled_size}.')
  window = side // pooled_size
  shape = tf.shape(features)
  channels = features.shape[-1]
  if channels is None:
    channels = shape[4]
  x = tf.reshape(features, [-1, side, side, channels])
  x = tf.nn.max_pool2d(x, window, window, 'VALID')
  return tf.reshape(x, [shape[0], shape[1], pooled_size, pooled_size,
                        channels])
