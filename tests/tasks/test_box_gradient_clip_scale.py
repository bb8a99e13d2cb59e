# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The box-path clip is a limit per image, whatever the batch and loss scale.

`MncTask.compute_loss_and_gradients` differentiates total_loss /
num_replicas (the losses average over the global batch), times the loss
scale under a `LossScaleOptimizer`; the clip limit is scaled by the same
factor, so each image's box-path gradient is clipped at
`cascade.box_gradient_clip`.  The RoI sampler's random priorities are made
the same for every image of a batch (and every call), so copies of one image
get the same samples.  (Two logical replicas: tests/test_distribution.py.)
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from official.core import exp_factory

from mnc_tf.configs import mnc_experiments  # pylint: disable=unused-import
from mnc_tf.tasks import mnc_task
from tests.tasks import test_oriented_train_step as oriented

# Binds for a sizeable share of the box-path gradient of the tiny model.
BINDING_CLIP = 5e-4
SIZE = [48, 64]


def same_priorities_per_image(monkeypatch):
  """tf.random.uniform -> one stateless draw shared by the batch's images."""
  def uniform(shape, *unused_args, **unused_kwargs):
    shape = tf.convert_to_tensor(shape)
    one = tf.concat([[1], shape[1:]], axis=0)
    return tf.broadcast_to(tf.random.stateless_uniform(one, seed=[3, 4]),
                           shape)
  monkeypatch.setattr(tf.random, 'uniform', uniform)


# Every anchor a proposal (no NMS), every proposal a RoI: the samples do not
# depend on the order of the scores (float16 scores may swap neighbours).
TAKE_ALL = {
    'proposal_generator': {'nms_iou_threshold': 1.0, 'num_proposals': 1000,
                           'pre_nms_top_k': 1000, 'min_size': 0.0},
    'roi_sampler': {'num_samples': 1024, 'fg_fraction': 1.0,
                    'bg_iou_thresholds': [0.5, 0.0], 'bg_fractions': [1.0]},
    'rpn_target_assigner': {'num_samples': 4096},
}


def task_and_model(clip=BINDING_CLIP, rpn_box_weight=1.0, model=None):
  config = exp_factory.get_exp_config('mnc_shapes_demo')
  config.task.model.override(model or {}, is_strict=True)
  config.task.train_data.parser.override(
      {'scale': 48, 'max_size': 64, 'padded_size': SIZE,
       'max_num_instances': 3, 'mask_crop_size': 16}, is_strict=True)
  config.task.model.cascade.box_gradient_clip = clip
  # On a 48 x 64 image most proposals touch the border, where the release's
  # rule zeroes their box gradient (tests/modeling/test_border_anchors.py).
  config.task.model.proposal_generator.box_gradient_inside_image_only = False
  config.task.losses.rpn_box_weight = rpn_box_weight
  config.task.losses.l2_weight_decay = 0.0
  task = mnc_task.MncTask(config.task)
  tf_keras.utils.set_random_seed(1)
  return task, task.build_model()


def copies(batch, n):
  return tf.nest.map_structure(lambda t: tf.concat([t] * n, axis=0), batch)


def numpy_grads(grads):
  return [None if g is None else g.numpy() for g in grads]


def assert_same_gradients(model, got, want, rtol=1e-3):
  """Per variable, within rtol of its largest element (float32 sums)."""
  compared = 0
  for var, g, w in zip(model.trainable_variables, got, want):
    assert (g is None) == (w is None), var.name
    if w is not None:
      np.testing.assert_allclose(g, w, rtol=rtol,
                                 atol=rtol * np.abs(w).max(),
                                 err_msg=var.name)
      compared += int(np.any(w))
  assert compared > 10


def test_two_copies_of_an_image_give_its_gradient(monkeypatch):
  same_priorities_per_image(monkeypatch)
  task, model = task_and_model()
  batch = oriented._batch(SIZE, 0)  # pylint: disable=protected-access
  alone_losses, alone = task.compute_loss_and_gradients(batch, model)
  both_losses, both = task.compute_loss_and_gradients(copies(batch, 2), model)
  # The clip binds on both pathways, neither for every element.
  for name in ('rpn_box_gradient_at_clip', 'stage3_box_gradient_at_clip'):
    share = float(alone_losses[name])
    assert 0.02 < share < 0.98, (name, share)
    assert float(both_losses[name]) == pytest.approx(share, abs=1e-6)
  np.testing.assert_allclose(float(both_losses['total_loss']),
                             float(alone_losses['total_loss']), rtol=1e-4)
  assert_same_gradients(model, numpy_grads(both), numpy_grads(alone))


def test_clip_share_counts_elements_at_the_clip(monkeypatch):
  """The share rises from 0 (clip far above the gradient) to 1 (far below)."""
  same_priorities_per_image(monkeypatch)
  batch = oriented._batch(SIZE, 0)  # pylint: disable=protected-access
  shares = []
  for clip in (1e3, BINDING_CLIP, 1e-12):
    task, model = task_and_model(clip=clip)
    losses, _ = task.compute_loss_and_gradients(batch, model)
    shares.append([float(losses[f'{p}_box_gradient_at_clip'])
                   for p in ('rpn', 'stage3')])
  assert shares[0] == [0.0, 0.0]
  assert shares[2] == [1.0, 1.0]
  assert all(0.0 < s < 1.0 for s in shares[1])


def _rpn_box_path_gradient(task, model, batch, optimizer=None):
  """Gradient of the RPN box conv kernel: with its own loss weighted 0, all
  of it comes through the boxes."""
  losses, grads = task.compute_loss_and_gradients(batch, model, optimizer)
  kernel = model.rpn_head.box_layer.kernel
  index = [v.ref() for v in model.trainable_variables].index(kernel.ref())
  return losses, np.asarray(tf.cast(grads[index], tf.float32))


def test_mixed_float16_loss_scale_keeps_the_box_gradient(monkeypatch):
  same_priorities_per_image(monkeypatch)
  batch = oriented._batch(SIZE, 0)  # pylint: disable=protected-access
  task, model = task_and_model(rpn_box_weight=0.0, model=TAKE_ALL)
  _, want = _rpn_box_path_gradient(task, model, batch)
  weights = model.get_weights()
  tf_keras.mixed_precision.set_global_policy('mixed_float16')
  try:
    half_task, half_model = task_and_model(rpn_box_weight=0.0,
                                           model=TAKE_ALL)
    half_model(batch[0], batch[1]['image_info'], training=False)  # Build.
    half_model.set_weights(weights)
    optimizer = tf_keras.mixed_precision.LossScaleOptimizer(
        tf_keras.optimizers.SGD(0.001))  # dynamic, initial scale 2**15
    assert float(optimizer.loss_scale) == 2.0 ** 15
    losses, got = _rpn_box_path_gradient(half_task, half_model, batch,
                                         optimizer)
  finally:
    tf_keras.mixed_precision.set_global_policy(None)  # floatx-based default
  assert float(losses['rpn_box_gradient_at_clip']) > 0.05
  assert np.abs(want).max() > 1e-6
  # Half precision: ~1e-3 relative per element, through a small network.
  np.testing.assert_allclose(got, want, rtol=0.05,
                             atol=0.02 * np.abs(want).max())


def test_train_step_logs_the_clip_share(monkeypatch):
  """The shares reach the training metrics (TensorBoard `train/`)."""
  same_priorities_per_image(monkeypatch)
  task, model = task_and_model()
  batch = oriented._batch(SIZE, 0)  # pylint: disable=protected-access
  names = ['rpn_box_gradient_at_clip', 'stage3_box_gradient_at_clip']
  metrics = {m.name: m for m in task.build_metrics(training=True)}
  assert set(names) <= set(metrics)
  losses, _ = task.compute_loss_and_gradients(batch, model)
  task.train_step(batch, model, tf_keras.optimizers.SGD(0.0),
                  list(metrics.values()))
  for name in names:
    assert 0.02 < float(metrics[name].result()) < 0.98
    assert float(metrics[name].result()) == pytest.approx(
        float(losses[name]), abs=1e-6)
  # No box gradient, no clip: no metric.
  task.task_config.model.cascade.box_gradient = False
  assert not set(names) & {m.name for m in task.build_metrics(True)}
