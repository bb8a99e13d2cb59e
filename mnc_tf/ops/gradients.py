# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Gradient shaping used on the cascade's box pathway."""

import tensorflow as tf


def clip_gradient(x, limit):
  """Identity whose back-propagated gradient is clipped element-wise.

  The original MNC release clips, element by element to [-1/512, 1/512], the
  gradient that reaches the RPN box deltas through the proposals
  (`proposal_layer.py`, `use_clip: 1, clip_base: 512`) and the stage-3 box
  deltas through the stage-4 boxes (`stage_bridge_layer.py`); without it the
  deltas of anchors that have no box target drift under the box gradient.

  Args:
    x: any float tensor.
    limit: Python float; 0 or None returns `x` unchanged.

  Returns:
    `x` (forward); the gradient w.r.t. `x` is clip(dy, -limit, limit).
  """
  if not limit:
    return x
  limit = float(limit)

  @tf.custom_gradient
  def _identity(value):
    def grad(dy):
      return tf.clip_by_value(dy, -limit, limit)
    return tf.identity(value), grad

  return _identity(x)
