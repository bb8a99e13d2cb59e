# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Gradient shaping used on the cascade's box pathway."""

import tensorflow as tf

# The box-path pathways whose gradient is clipped, in the row order of
# `BoxGradientClip`'s counts: the RPN deltas (through the proposals) and the
# stage-3 deltas (through the stage-4 boxes).
PATHWAYS = ('rpn', 'stage3')


def clip_gradient(x, limit, scale=None, counts=None):
  """Identity whose back-propagated gradient is clipped element-wise.

  The original MNC release clips, element by element to [-1/512, 1/512], the
  gradient that reaches the RPN box deltas through the proposals
  (`proposal_layer.py`, `use_clip: 1, clip_base: 512`) and the stage-3 box
  deltas through the stage-4 boxes (`stage_bridge_layer.py`); without it the
  deltas of anchors that have no box target drift under the box gradient.

  Args:
    x: any float tensor.
    limit: Python float; 0 or None returns `x` unchanged.
    scale: optional float scalar tensor; the gradient is clipped at
      `limit * scale`.  Pass the factor one image's loss is multiplied by on
      its way to the differentiated loss (loss scale / global batch) to clip
      each image's gradient at `limit`.
    counts: optional float32 `[2]` tensor (zeros, watched by the tape); its
      gradient is [number of gradient elements at the clip (|dy| >= the
      limit), number of non-zero gradient elements].

  Returns:
    `x` (forward); the gradient w.r.t. `x` is clip(dy, -l, l) with
    l = limit * scale.
  """
  if not limit:
    return x
  limit = float(limit)

  def clipped(dy):
    bound = tf.cast(limit, dy.dtype)
    if scale is not None:
      bound *= tf.cast(scale, dy.dtype)
    return tf.clip_by_value(dy, -bound, bound), bound

  if counts is None:
    @tf.custom_gradient
    def _identity(value):
      def grad(dy):
        return clipped(dy)[0]
      return tf.identity(value), grad
    return _identity(x)

  @tf.custom_gradient
  def _counted_identity(value, unused_counts):
    def grad(dy):
      result, bound = clipped(dy)
      nonzero = tf.not_equal(dy, 0)
      at_clip = nonzero & (tf.abs(dy) >= bound)
      count = lambda mask: tf.reduce_sum(tf.cast(mask, tf.float32))
      return result, tf.stack([count(at_clip), count(nonzero)])
    return tf.identity(value), grad

  return _counted_identity(x, counts)


def gradient_only_where(values, rows):
  """`values` whose gradient flows only in the selected rows.

  Args:
    values: `[B, K, ...]`.
    rows: bool `[B, K]`.

  Returns:
    `values` (forward); the gradient is zero where `rows` is False.
  """
  keep = tf.cast(rows, values.dtype)
  keep = tf.reshape(keep, tf.concat(
      [tf.shape(keep), tf.ones([values.shape.rank - 2], tf.int32)], axis=0))
  fixed = tf.stop_gradient(values)
  return fixed + keep * (values - fixed)


class BoxGradientClip:
  """The box-path clip of one training pass (the limit, its scale, counts).

  Attributes:
    limit: Python float, the clip per image (`cascade.box_gradient_clip`).
    scale: optional float scalar tensor the limit is multiplied by (see
      `clip_gradient`).
    counts: optional float32 `[len(PATHWAYS), 2]` tensor watched by the
      caller's tape; row p's gradient is `clip_gradient`'s counts of pathway
      `PATHWAYS[p]`.
  """

  def __init__(self, limit, scale=None, counts=None):
    self.limit = limit
    self.scale = scale
    self.counts = counts

  def __call__(self, x, pathway):
    """`clip_gradient` of `x` on `pathway` (one of `PATHWAYS`)."""
    if pathway not in PATHWAYS:
      raise ValueError(f'Unknown box-gradient pathway {pathway!r}; use one of '
                       f'{PATHWAYS}.')
    counts = None
    if self.counts is not None:
      counts = self.counts[PATHWAYS.index(pathway)]
    return clip_gradient(x, self.limit, scale=self.scale, counts=counts)


def clip_share(counts):
  """Share of the non-zero box-path gradient elements at the clip.

  Args:
    counts: the gradient of `BoxGradientClip.counts`, `[P, 2]` (None: no
      gradient reached any clip).

  Returns:
    dict pathway -> float32 scalar in [0, 1] (0 where no element is non-zero).
  """
  if counts is None:
    counts = tf.zeros([len(PATHWAYS), 2])
  counts = tf.convert_to_tensor(counts)
  return {name: tf.math.divide_no_nan(counts[p, 0], counts[p, 1])
          for p, name in enumerate(PATHWAYS)}
