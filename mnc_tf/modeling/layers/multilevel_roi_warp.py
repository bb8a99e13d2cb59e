# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The RoI warp on a feature pyramid: each RoI from the level its size picks.

Each RoI is warped (`mnc_tf.ops.roi_warp`, Eq. 6-9, differentiable w.r.t.
the features and the box) only on the level `pyramid_levels.assign_levels`
picks, with that level's spatial scale 2^-l, and the rows come back in RoI
order.  Per level, every image's boxes of that level are gathered to the
front of a `[B, K_l, 4]` batch (K_l: the most boxes any image has on the
level, at least 1; the few filler rows of the other images are warped and
dropped), and one gather by a stable sort puts the rows back in RoI order.
The work is about one level's warp of all K RoIs, whatever the number of
levels.  The level is a constant per box (a router, like NMS), so the
gradient w.r.t. a box is exactly the gradient of its own level's warp; the
gathers only route rows and their gradients.
"""

import tensorflow as tf
import tf_keras

from mnc_tf.ops import pyramid_levels
from mnc_tf.ops.roi_warp import IMPLEMENTATIONS
from mnc_tf.ops.roi_warp import roi_warp


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class MultilevelRoiWarp(tf_keras.layers.Layer):
  """Warps boxes from pyramid levels to S x S (optionally pooled to P x P)."""

  def __init__(self, min_level=2, max_level=5, canonical_level=4,
               canonical_size=224.0, output_size=28, pooled_size=0,
               implementation='auto', **kwargs):
    """Initializes the layer.

    Args:
      min_level: finest level an RoI is warped from.
      max_level: coarsest level an RoI is warped from.
      canonical_level: level of an RoI of side `canonical_size`.
      canonical_size: that side in pixels (224).
      output_size: S, side of the bilinear sampling grid.
      pooled_size: 0 for none, else the fused max pool's output side P.
      implementation: one of `mnc_tf.ops.roi_warp.IMPLEMENTATIONS`.
      **kwargs: base layer arguments.

    Raises:
      ValueError: an unknown implementation or max_level < min_level.
    """
    super().__init__(**kwargs)
    if implementation not in IMPLEMENTATIONS:
      raise ValueError(f'implementation must be one of {IMPLEMENTATIONS}, '
                       f'got {implementation!r}.')
    if int(max_level) < int(min_level):
      raise ValueError(f'multilevel_roi_warp.max_level ({max_level}) must be '
                       f'>= min_level ({min_level}).')
    self._config_dict = {
        'min_level': int(min_level),
        'max_level': int(max_level),
        'canonical_level': int(canonical_level),
        'canonical_size': float(canonical_size),
        'output_size': int(output_size),
        'pooled_size': int(pooled_size or 0),
        'implementation': implementation,
    }

  @property
  def levels(self):
    """The RoI levels, finest first."""
    cfg = self._config_dict
    return list(range(cfg['min_level'], cfg['max_level'] + 1))

  def assign_levels(self, boxes):
    """int32 `[B, K]`: the level each box `[B, K, 4]` is warped from."""
    cfg = self._config_dict
    return pyramid_levels.assign_levels(
        boxes, cfg['min_level'], cfg['max_level'], cfg['canonical_level'],
        cfg['canonical_size'])

  def call(self, features, boxes):
    """Warps.

    Args:
      features: dict {str(level): `[B, H / 2^level, W / 2^level, C]`} with
        at least the RoI levels.
      boxes: `[B, K, 4]` (ymin, xmin, ymax, xmax) in input-image pixels.

    Returns:
      `[B, K, S, S, C]` or `[B, K, P, P, C]`, row k warped from the level of
      box k.

    Raises:
      ValueError: `features` lacks an RoI level.
    """
    cfg = self._config_dict
    missing = [str(l) for l in self.levels if str(l) not in features]
    if missing:
      raise ValueError(f'MultilevelRoiWarp needs feature levels {missing}; '
                       f'got {sorted(features)}: set multilevel_roi_warp '
                       'levels within the decoder levels.')
    box_levels = self.assign_levels(boxes)
    num_boxes = tf.shape(boxes)[1]
    side = cfg['pooled_size'] or cfg['output_size']
    warped_rows, positions, valid = [], [], []
    for level in self.levels:
      on_level = tf.equal(box_levels, level)
      # This level's boxes first, in RoI order (a stable sort), per image.
      order = tf.argsort(tf.cast(tf.logical_not(on_level), tf.int32),
                         axis=1, stable=True)
      count = tf.reduce_max(tf.reduce_sum(tf.cast(on_level, tf.int32), 1))
      order = order[:, :tf.maximum(count, 1)]
      level_features = features[str(level)]
      warped_rows.append(roi_warp(
          level_features, tf.gather(boxes, order, batch_dims=1),
          output_size=cfg['output_size'], spatial_scale=2.0 ** -level,
          pooled_size=cfg['pooled_size'],
          implementation=cfg['implementation']))
      positions.append(order)
      valid.append(tf.gather(on_level, order, batch_dims=1))
    warped = tf.concat(warped_rows, axis=1)
    # Row k of the output is the valid row whose position is k: sort the
    # valid rows by position, the filler rows after them.
    key = tf.where(tf.concat(valid, axis=1), tf.concat(positions, axis=1),
                   num_boxes)
    rows = tf.argsort(key, axis=1, stable=True)[:, :num_boxes]
    out = tf.gather(warped, rows, batch_dims=1)
    out.set_shape([boxes.shape[0], boxes.shape[1], side, side,
                   features[str(self.levels[0])].shape[-1]])
    return out

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config
