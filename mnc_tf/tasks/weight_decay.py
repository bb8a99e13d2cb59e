# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Weight decay added to the gradients instead of differentiated as a loss.

The layers carry Model Garden's `l2(c)` kernel regularizers (c = Caffe's
`weight_decay` / 2). Differentiated as a loss term, `c * sum(w**2)` gives each
kernel a gradient `2 c w`; TF builds it from ops that need nothing but the
weights, so they may run as soon as the backward starts and those
weight-sized tensors stay alive until the network's gradient of the same
kernel joins them at the end. Here the same `2 c w` is added to each kernel's
gradient only once that gradient exists (a control dependency), as Caffe's
solver adds `weight_decay * w` in its update: the same math, to float
rounding, without the early weight-sized temporaries.
"""
from typing import List, Sequence, Tuple

import tensorflow as tf
import tf_keras


def _key(variable):
  """The same key for a variable and its mixed-precision AutoCastVariable."""
  return id(getattr(variable, '_variable', variable))


def regularized_kernels(model: tf_keras.Model) -> List[Tuple[tf.Variable,
                                                             float]]:
  """(kernel, c) of every layer with an `l2(c)` kernel regularizer.

  Args:
    model: a built Keras model.

  Returns:
    One pair per regularized kernel, in layer order.

  Raises:
    ValueError: a regularization loss this module does not reproduce (another
      regularizer type, or a loss not from a kernel regularizer), naming it.
  """
  pairs = []
  for layer in model._flatten_layers(include_self=True):  # pylint: disable=protected-access
    regularizer = getattr(layer, 'kernel_regularizer', None)
    if regularizer is None or getattr(layer, 'kernel', None) is None:
      continue
    if not isinstance(regularizer, tf_keras.regularizers.L2):
      raise ValueError('weight decay in the gradient: layer %s has a %s '
                       'kernel regularizer (only L2 is reproduced)' % (
                           layer.name, type(regularizer).__name__))
    pairs.append((layer.kernel, float(regularizer.l2)))
  if len(pairs) != len(model.losses):
    raise ValueError(
        'weight decay in the gradient: the model has %d regularization '
        'losses but %d L2-regularized kernels; another loss (activity or '
        'bias regularizer, add_loss) would be lost' % (len(model.losses),
                                                       len(pairs)))
  return pairs


def regularized_biases(model: tf_keras.Model) -> List[Tuple[tf.Variable,
                                                            float]]:
  """(bias, c) of every layer whose kernel has an `l2(c)` regularizer.

  Caffe's solver decays every parameter whose `decay_mult` is not 0, biases
  included (the original release sets `decay_mult: 0` only on the frozen
  conv1-conv2, which are not trainable here); only trainable biases count.

  Args:
    model: a built Keras model.

  Returns:
    One pair per trainable bias, in layer order.
  """
  pairs = []
  for layer in model._flatten_layers(include_self=True):  # pylint: disable=protected-access
    regularizer = getattr(layer, 'kernel_regularizer', None)
    bias = getattr(layer, 'bias', None)
    if (isinstance(regularizer, tf_keras.regularizers.L2) and
        bias is not None and bias.trainable):
      pairs.append((bias, float(regularizer.l2)))
  return pairs


def l2_loss(pairs: Sequence[Tuple[tf.Variable, float]]) -> tf.Tensor:
  """sum c * sum(w**2) over the pairs (the value of the loss term), float32.

  `tf.nn.l2_loss` (sum(w**2) / 2) reduces in one op: no weight-sized square.
  """
  if not pairs:
    return tf.constant(0.0)
  return tf.add_n([tf.cast(2.0 * c * tf.nn.l2_loss(w), tf.float32)
                   for w, c in pairs])


def add_to_gradients(grads: Sequence[tf.Tensor],
                     variables: Sequence[tf.Variable],
                     pairs: Sequence[Tuple[tf.Variable, float]],
                     scale: float = 1.0) -> List[tf.Tensor]:
  """grads + scale * 2 c w for the regularized variables.

  Args:
    grads: gradients aligned with `variables` (None for an unused one).
    variables: the trainable variables.
    pairs: `regularized_kernels(model)`.
    scale: the factor the loss was scaled by before differentiation (1 /
      num_replicas: the replicas' gradients are summed).

  Returns:
    The gradients of loss + the L2 term, aligned with `variables`.
  """
  decay = {_key(w): c for w, c in pairs}
  out = []
  for grad, var in zip(grads, variables):
    c = decay.get(_key(var))
    if c is None:
      out.append(grad)
      continue
    factor = tf.cast(2.0 * c * scale, var.dtype)
    if grad is None:
      out.append(factor * var)
      continue
    # Only once the network's gradient exists: no early weight-sized term.
    # (grad / factor + w) * factor = grad + factor * w, written so that each
    # op can reuse the gradient's buffer (TF forwards an input buffer nobody
    # else holds) instead of allocating a weight-sized `factor * w` too.
    with tf.control_dependencies([grad]):
      out.append((grad * (1.0 / factor) + tf.identity(var)) * factor)
  return out
