# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""One kernel gradient for two uses: equals plain autodiff of x3 W, x5 W."""

import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.ops import shared_kernel_gradient as skg


def _chain(x3, kernel, mix, shared, rows):
  """y3 = relu(x3 W); x5 = tanh(y3 mix) (+ 2 extra rows); y5 = x5 W."""
  if shared:
    y3, carrier = skg.first_use(x3, kernel, rows)
  else:
    y3 = tf.matmul(x3, kernel)
  y3 = tf.nn.relu(y3)
  x5 = tf.concat([tf.tanh(tf.matmul(y3, mix)), x3[:2] * 0.5], axis=0)
  y5 = skg.later_use(x5, kernel, carrier) if shared else tf.matmul(x5, kernel)
  return tf.reduce_sum(tf.sin(y3)) + tf.reduce_sum(tf.square(y5))


@pytest.mark.parametrize('rows', [6, 9])
def test_gradients_equal_plain_autodiff(rows):
  rng = np.random.default_rng(0)
  x3 = tf.constant(rng.normal(size=(4, 5)), tf.float64)
  kernel = tf.Variable(rng.normal(size=(5, 3)) * 0.5)
  mix = tf.Variable(rng.normal(size=(3, 5)))
  results = []
  for shared in (False, True):
    with tf.GradientTape() as tape:
      tape.watch(x3)
      loss = _chain(x3, tf.convert_to_tensor(kernel), mix, shared, rows)
    results.append([loss] + tape.gradient(loss, [kernel, mix, x3]))
  plain, shared = results
  for want, got in zip(plain, shared):
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
  # The later use's partial is a sizeable part of the kernel gradient.
  with tf.GradientTape() as tape:
    y3 = tf.matmul(x3, kernel)
    first_only = tf.reduce_sum(tf.sin(tf.nn.relu(y3)))
  assert np.abs(tape.gradient(first_only, kernel) - plain[1]).max() > 0.1


def test_too_few_carrier_rows_fail():
  x3 = tf.ones([4, 5], tf.float64)
  kernel = tf.Variable(tf.ones([5, 3], tf.float64))
  with pytest.raises((tf.errors.InvalidArgumentError, ValueError)):
    with tf.GradientTape() as tape:
      loss = _chain(x3, tf.convert_to_tensor(kernel), tf.ones([3, 5],
                                                              tf.float64),
                    True, 5)
    tape.gradient(loss, kernel)
