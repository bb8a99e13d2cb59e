# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""clip_gradient: identity forward, element-wise clipped backward."""
import numpy as np
import tensorflow as tf

from mnc_tf.ops import gradients


def test_clip_gradient_forward_identity_backward_clipped():
  x = tf.constant([1.0, -2.0, 3.0, 0.5])
  weights = tf.constant([10.0, -0.001, -7.0, 0.2])
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = gradients.clip_gradient(x, 0.25)
    loss = tf.reduce_sum(y * weights)
  np.testing.assert_array_equal(y.numpy(), x.numpy())
  np.testing.assert_allclose(tape.gradient(loss, x).numpy(),
                             [0.25, -0.001, -0.25, 0.2])


def test_clip_gradient_zero_limit_is_plain_identity():
  x = tf.constant([3.0])
  with tf.GradientTape() as tape:
    tape.watch(x)
    loss = 5.0 * gradients.clip_gradient(x, 0.0)
  assert float(tape.gradient(loss, x)[0]) == 5.0
