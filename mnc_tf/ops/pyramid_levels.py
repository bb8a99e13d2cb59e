# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The pyramid level an RoI is warped from (FPN, Lin et al. 2017, Eq. 1)."""

import tensorflow as tf


def assign_levels(boxes, min_level, max_level, canonical_level=4,
                  canonical_size=224.0):
  """k = floor(canonical_level + log2(sqrt(h * w) / canonical_size)), clamped.

  Computed by comparing sqrt(h * w) with the level boundaries
  canonical_size * 2^(k - canonical_level) instead of through a logarithm,
  so a box exactly on a boundary (side 112, 224, 448, ...) gets the upper
  level without float rounding deciding it.  Boxes of zero or negative area
  (padding) get `min_level`.  The result is a constant (no gradient): it
  only routes each box to a feature map.

  Args:
    boxes: `[..., 4]` (ymin, xmin, ymax, xmax) in network-input pixels.
    min_level: smallest level returned.
    max_level: largest level returned (>= min_level).
    canonical_level: level of a box of side `canonical_size`.
    canonical_size: that side in pixels.

  Returns:
    int32 `[...]` levels in [min_level, max_level].

  Raises:
    ValueError: max_level < min_level.
  """
  if max_level < min_level:
    raise ValueError(f'max_level ({max_level}) must be >= min_level '
                     f'({min_level}).')
  boxes = tf.stop_gradient(tf.cast(boxes, tf.float32))
  height = tf.maximum(boxes[..., 2] - boxes[..., 0], 0.0)
  width = tf.maximum(boxes[..., 3] - boxes[..., 1], 0.0)
  side = tf.sqrt(height * width)
  levels = tf.fill(tf.shape(side), tf.constant(min_level, tf.int32))
  for level in range(min_level + 1, max_level + 1):
    boundary = canonical_size * 2.0 ** (level - canonical_level)
    levels += tf.cast(side >= boundary, tf.int32)
  return levels
