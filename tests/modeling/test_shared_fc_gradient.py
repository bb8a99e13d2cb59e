# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""`classifier_head.shared_fc_gradient`: a 5-stage training step gives the
losses and gradients of the plain path (tiny model, same weights)."""

import numpy as np
import tensorflow as tf
import tf_keras

from official.core import exp_factory

from mnc_tf.configs import mnc_experiments  # pylint: disable=unused-import
from mnc_tf.tasks import mnc_task
from tests.tasks import test_oriented_train_step as oriented


def test_five_stage_gradients_unchanged(monkeypatch):
  monkeypatch.setattr(tf.random, 'uniform', lambda shape, *a, **k:
                      tf.random.stateless_uniform(shape, seed=[3, 4]))
  config = exp_factory.get_exp_config('mnc_shapes_demo')
  config.task.train_data.parser.override(
      {'scale': 48, 'max_size': 64, 'padded_size': [48, 64],
       'max_num_instances': 3, 'mask_crop_size': 16}, is_strict=True)
  config.task.model.cascade.num_train_stages = 5
  config.task.model.classifier_head.shared_fc_gradient = True
  task = mnc_task.MncTask(config.task)
  tf_keras.utils.set_random_seed(1)
  model = task.build_model()
  head = model.classifier_head
  assert head.get_config()['shared_fc_gradient']
  batch = oriented._batch([48, 64], 0)  # pylint: disable=protected-access

  results = []
  for shared in (True, False):  # Shared first: it builds the fc layers.
    head._config_dict['shared_fc_gradient'] = shared  # pylint: disable=protected-access
    losses, grads = task.compute_loss_and_gradients(batch, model)
    results.append((float(losses['total_loss']),
                    [None if g is None else g.numpy() for g in grads]))
  (loss_shared, grads_shared), (loss_plain, grads_plain) = results
  assert np.isfinite(loss_plain) and loss_plain > 0
  np.testing.assert_allclose(loss_shared, loss_plain, rtol=1e-6)
  checked = 0
  for var, want, got in zip(model.trainable_variables, grads_plain,
                            grads_shared):
    assert (want is None) == (got is None), var.name
    if want is None:
      continue
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7,
                               err_msg=var.name)
    if 'fc6' in var.name or 'fc7' in var.name:
      checked += int(np.abs(want).max() > 0)
  assert checked == 8  # fc6 / fc7 kernels and biases of both pathways.
