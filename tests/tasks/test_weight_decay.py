# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Weight decay added to the gradients (`losses.l2_weight_decay_in_gradients`)
gives the losses, gradients and updated weights of the loss-term path."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from official.core import exp_factory

from mnc_tf.configs import mnc_experiments  # pylint: disable=unused-import
from mnc_tf.tasks import mnc_task
from mnc_tf.tasks import weight_decay
from tests.tasks import test_oriented_train_step as oriented


def _task_and_model(decay):
  config = exp_factory.get_exp_config('mnc_shapes_demo')
  config.task.train_data.parser.override(
      {'scale': 48, 'max_size': 64, 'padded_size': [48, 64],
       'max_num_instances': 3, 'mask_crop_size': 16}, is_strict=True)
  config.task.model.cascade.num_train_stages = 3
  # A decay large enough that its gradient is a sizeable part of the total.
  config.task.losses.l2_weight_decay = decay
  task = mnc_task.MncTask(config.task)
  tf_keras.utils.set_random_seed(1)
  return task, task.build_model()


def _step(task, model, batch, in_gradients):
  task.task_config.losses.l2_weight_decay_in_gradients = in_gradients
  losses, grads = task.compute_loss_and_gradients(batch, model)
  return {k: float(v) for k, v in losses.items()}, [
      None if g is None else g.numpy() for g in grads]


def test_same_losses_gradients_and_update(monkeypatch):
  monkeypatch.setattr(tf.random, 'uniform', lambda shape, *a, **k:
                      tf.random.stateless_uniform(shape, seed=[3, 4]))
  task, model = _task_and_model(decay=0.05)
  batch = oriented._batch([48, 64], 0)  # pylint: disable=protected-access
  model(batch[0], batch[1]['image_info'], training=False)  # Build.
  loss_term, grads_term = _step(task, model, batch, in_gradients=False)
  in_grad, grads_in = _step(task, model, batch, in_gradients=True)

  # The reported losses are the same, l2_loss = c * sum(w**2) by NumPy.
  pairs = weight_decay.regularized_kernels(model)
  assert len(pairs) >= 10
  want_l2 = sum(c * np.sum(np.square(w.numpy(), dtype=np.float64))
                for w, c in pairs)
  np.testing.assert_allclose(in_grad['l2_loss'], want_l2, rtol=1e-5)
  for key in ('total_loss', 'model_loss', 'l2_loss'):
    np.testing.assert_allclose(in_grad[key], loss_term[key], rtol=1e-5)

  # Gradients equal the loss-term path's; the decay part is not negligible.
  decay = {id(w): c for w, c in pairs}
  moved = 0
  for var, want, got in zip(model.trainable_variables, grads_term, grads_in):
    assert (want is None) == (got is None), var.name
    if want is None:
      continue
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6,
                               err_msg=var.name)
    if id(var) in decay:  # 2 c w is a sizeable part of the gradient.
      decay_part = np.abs(2 * decay[id(var)] * var.numpy()).max()
      moved += int(decay_part > 0.1 * np.abs(want).max())
  assert moved >= 5

  # One momentum SGD update from the same weights and slots: same weights.
  start = [v.numpy() for v in model.trainable_variables]
  updated = []
  for grads in (grads_term, grads_in):
    for var, value in zip(model.trainable_variables, start):
      var.assign(value)
    optimizer = tf_keras.optimizers.legacy.SGD(learning_rate=0.1,
                                               momentum=0.9)
    pairs_gv = [(tf.constant(g), v) for g, v in
                zip(grads, model.trainable_variables) if g is not None]
    optimizer.apply_gradients(pairs_gv)
    optimizer.apply_gradients(pairs_gv)  # The momentum slot is used.
    updated.append([v.numpy() for v in model.trainable_variables])
  for want, got in zip(*updated):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_decay_reaches_the_gradient_of_every_kernel():
  """Against NumPy: add_to_gradients(0 gradients) = 2 c w / replicas."""
  task, model = _task_and_model(decay=0.01)
  del task
  batch = oriented._batch([48, 64], 0)  # pylint: disable=protected-access
  model(batch[0], batch[1]['image_info'], training=False)
  pairs = weight_decay.regularized_kernels(model)
  variables = model.trainable_variables
  zeros = [tf.zeros_like(v) for v in variables]
  out = weight_decay.add_to_gradients(zeros, variables, pairs, scale=0.5)
  decay = {id(w): c for w, c in pairs}
  for var, got in zip(variables, out):
    want = 2 * decay.get(id(var), 0.0) * 0.5 * var.numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=var.name)
  assert pairs[0][1] == pytest.approx(0.01 / 2)  # l2(decay / 2).


def test_other_regularizer_is_refused():
  inputs = tf_keras.Input([3])
  dense = tf_keras.layers.Dense(
      2, kernel_regularizer=tf_keras.regularizers.L1(0.1), name='fc_l1')
  model = tf_keras.Model(inputs, dense(inputs))
  with pytest.raises(ValueError, match='fc_l1'):
    weight_decay.regularized_kernels(model)


@pytest.mark.parametrize('in_gradients', [False, True])
def test_biases_decay_as_in_caffe(monkeypatch, in_gradients):
  """`losses.bias_weight_decay`: l2_loss and the bias gradients gain the
  biases' `c * sum(b**2)` (NumPy), on both decay paths; off: kernels only."""
  monkeypatch.setattr(tf.random, 'uniform', lambda shape, *a, **k:
                      tf.random.stateless_uniform(shape, seed=[3, 4]))
  task, model = _task_and_model(decay=0.05)
  batch = oriented._batch([48, 64], 0)  # pylint: disable=protected-access
  model(batch[0], batch[1]['image_info'], training=False)  # Build.
  rng = np.random.RandomState(0)
  biases = weight_decay.regularized_biases(model)
  assert len(biases) >= 10
  for bias, _ in biases:   # Biases start at 0: make them count.
    bias.assign(rng.normal(scale=0.5, size=bias.shape))
  sum_sq = lambda pairs: sum(c * np.sum(np.square(w.numpy(), dtype=np.float64))
                             for w, c in pairs)
  kernels = sum_sq(weight_decay.regularized_kernels(model))
  with_biases = kernels + sum_sq(biases)
  results = {}
  for on in (True, False):
    task.task_config.losses.bias_weight_decay = on
    results[on] = _step(task, model, batch, in_gradients)
  np.testing.assert_allclose(results[True][0]['l2_loss'], with_biases,
                             rtol=1e-5)
  np.testing.assert_allclose(results[False][0]['l2_loss'], kernels, rtol=1e-5)
  index = {v.ref(): i for i, v in enumerate(model.trainable_variables)}
  for bias, c in biases:
    i = index[bias.ref()]
    on, off = results[True][1][i], results[False][1][i]
    np.testing.assert_allclose(on - off, 2 * c * bias.numpy(), rtol=1e-3,
                               atol=1e-5, err_msg=bias.name)
