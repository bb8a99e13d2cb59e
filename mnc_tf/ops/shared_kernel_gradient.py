# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""One kernel gradient for a dense kernel used by two cascade stages.

Stages 3 and 5 share the classifier head: each fc layer's kernel `W [D, F]`
is used twice, y3 = x3 W and later y5 = x5 W, where x5 depends on y3 (the
stage-4 boxes are regressed from stage 3). Plain autodiff computes the
kernel's partial gradient x5^T dy5 (weight-sized: 411 MB for VGG-16's fc6)
in stage 5's backward and keeps it until stage 3's x3^T dy3 joins it, through
the backward of stages 4 and 3.

Here the later use passes its rows back instead: `first_use` also returns a
zero "carrier" `[R, D + F]` that `later_use` takes as an input; the carrier's
gradient is `[x5, dy5]` (R >= rows of x5, padded with zero rows), which
reaches the first use's backward through the carrier, where one matmul forms
`[x3; x5]^T [dy3; dy5]` = x3^T dy3 + x5^T dy5. Same math (to float
rounding); the rows held meanwhile are small (R x (D + F) floats).
"""
from typing import Tuple

import tensorflow as tf


def first_use(x: tf.Tensor, kernel: tf.Tensor,
              carrier_rows) -> Tuple[tf.Tensor, tf.Tensor]:
  """y = x @ kernel and a zero carrier for the later use of the kernel.

  Args:
    x: `[N, D]`.
    kernel: `[D, F]` (the variable's value).
    carrier_rows: R, at least the rows the later use will see (int or scalar
      int32 tensor).

  Returns:
    y `[N, F]` and carrier `[R, D + F]` (zeros; pass it to `later_use`).
  """
  depth = kernel.shape[0]

  @tf.custom_gradient
  def forward(x, kernel):
    y = tf.matmul(x, kernel)
    carrier = tf.zeros(tf.stack([carrier_rows, tf.shape(kernel)[0]
                                 + tf.shape(kernel)[1]]), x.dtype)

    def grad(dy, dcarrier):
      dx = tf.matmul(dy, kernel, transpose_b=True)
      rows_x = tf.concat([x, dcarrier[:, :depth]], axis=0)
      rows_dy = tf.concat([dy, dcarrier[:, depth:]], axis=0)
      return dx, tf.matmul(rows_x, rows_dy, transpose_a=True)

    return (y, carrier), grad

  return forward(x, kernel)


def later_use(x: tf.Tensor, kernel: tf.Tensor,
              carrier: tf.Tensor) -> tf.Tensor:
  """y = x @ kernel; the kernel's gradient goes back through `carrier`.

  Args:
    x: `[M, D]`, M <= R.
    kernel: `[D, F]`, the same value `first_use` saw.
    carrier: `[R, D + F]` from `first_use`.

  Returns:
    y `[M, F]`. Its kernel gradient is not returned here (None) but formed
    by `first_use`'s backward; without that backward it is lost, so both
    uses must be on the same tape.
  """

  @tf.custom_gradient
  def forward(x, kernel, carrier):
    y = tf.matmul(x, kernel)

    def grad(dy):
      dx = tf.matmul(dy, kernel, transpose_b=True)
      rows = tf.concat([x, tf.cast(dy, x.dtype)], axis=1)
      # More rows than the carrier holds: tf.pad fails (negative padding).
      padding = tf.shape(carrier)[0] - tf.shape(x)[0]
      return dx, None, tf.pad(rows, [[0, padding], [0, 0]])

    return y, grad

  return forward(x, kernel, carrier)
