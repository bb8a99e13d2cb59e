# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Float64 finite-difference and descent checks of a scalar loss's gradient.

Shared by the box-gradient checks of the single-map and pyramid models.
"""
import numpy as np
import tensorflow as tf


def iou(a, b):
  """`[N, M]` IoU of boxes `a` `[N, 4]` and `b` `[M, 4]` (NumPy)."""
  y1, x1 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1],
                                                               b[None, :, 1])
  y2, x2 = np.minimum(a[:, None, 2], b[None, :, 2]), np.minimum(a[:, None, 3],
                                                               b[None, :, 3])
  inter = np.clip(y2 - y1, 0, None) * np.clip(x2 - x1, 0, None)
  area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])
  return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def gradient(fn, x):
  """(fn(x) as a float, d fn / d x with unconnected parts zero)."""
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = fn(x)
  return float(y), tape.gradient(
      y, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)


def random_directions(x, support, seed, count):
  """`count` random unit directions shaped like `x`, zero off `support`."""
  rng = np.random.RandomState(seed)
  for _ in range(count):
    v = rng.randn(*x.shape) * support
    yield tf.constant(v / np.linalg.norm(v))


def check_direction(fn, x, grad, v, eps, rtol):
  """The derivative along `v` from `grad` matches central differences.

  The piecewise-smooth kernels (bilinear, max pool, ReLU) could put a kink
  within +-eps: the differences at eps and eps / 4 must agree first, so a
  kink fails loudly rather than passing by luck.
  """
  analytic = float(tf.reduce_sum(grad * v))

  def central(step):
    return (float(fn(x + step * v)) - float(fn(x - step * v))) / (2 * step)
  numeric, numeric_quarter = central(eps), central(eps / 4)
  assert abs(numeric - numeric_quarter) <= 1e-4 * abs(numeric), (
      numeric, numeric_quarter)
  error = abs(analytic - numeric) / max(abs(analytic), abs(numeric), 1e-12)
  assert abs(numeric) > 1e-6, numeric
  assert error <= rtol, (analytic, numeric, error)


def check_descent(fn, x, support, step=1e-4):
  """A step of `step` against the gradient (on `support`) lowers `fn` by at
  least half of what the gradient predicts."""
  loss0, grad = gradient(fn, x)
  direction = grad * support
  norm = float(tf.norm(direction))
  loss1 = float(fn(x - step * direction / max(norm, 1e-30)))
  assert norm > 0.0
  assert loss0 - loss1 >= 0.5 * step * norm, (loss0, loss1, step * norm)
