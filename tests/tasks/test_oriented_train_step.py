# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""MncTask with oriented padding: batches of unknown [H, W] (what a trainer's
`tf.function` sees) give the losses and gradients of a call on the static
shape of their orientation."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from official.core import exp_factory

from mnc_tf.configs import mnc_experiments  # pylint: disable=unused-import
from mnc_tf.tasks import mnc_task

SIZES = ([48, 64], [64, 48])     # scale 48, max 64, divisor 16.


def _task_and_model():
  config = exp_factory.get_exp_config('mnc_shapes_demo')
  config.task.train_data.parser.override(
      {'scale': 48, 'max_size': 64, 'padded_size': [], 'size_divisor': 16,
       'oriented_padding': True, 'max_num_instances': 3, 'mask_crop_size': 16},
      is_strict=True)
  config.task.model.cascade.num_train_stages = 3   # A smaller graph.
  task = mnc_task.MncTask(config.task)
  tf_keras.utils.set_random_seed(1)
  return task, task.build_model()


def _batch(size, seed):
  """One image of `size` with 2 instances (boxes, crops) in labels."""
  rng = np.random.default_rng(seed)
  h, w = size
  boxes = np.array([[4, 6, 30, 40], [20, 10, 44, 30], [-1, -1, -1, -1]],
                   np.float32)
  if h > w:
    boxes[:2] = boxes[:2][:, [1, 0, 3, 2]]
  crops = np.zeros((3, 16, 16), np.uint8)
  crops[:2, 2:14, 3:12] = 255
  labels = {
      'image_info': tf.constant([[[h, w], [h, w], [1, 1], [0, 0]]],
                                tf.float32),
      'gt_boxes': tf.constant(boxes[None]),
      'gt_classes': tf.constant([[1, 4, -1]], tf.int32),
      'gt_masks': {'crops': tf.constant(crops[None])},
      'gt_is_crowd': tf.zeros([1, 3], tf.int32),
      'gt_num_instances': tf.constant([2], tf.int32),
      'source_id': tf.constant([seed], tf.int64),
  }
  images = tf.constant(rng.normal(size=(1, h, w, 3)), tf.float32)
  return images, labels


@pytest.mark.slow
def test_dynamic_shapes_dispatch_to_the_static_computation(monkeypatch):
  # The RoI sampler's random priorities, made the same in every graph.
  monkeypatch.setattr(tf.random, 'uniform', lambda shape, *a, **k:
                      tf.random.stateless_uniform(shape, seed=[3, 4]))
  task, model = _task_and_model()

  def loss_and_grads(images, labels):
    with tf.GradientTape() as tape:
      loss = task._train_losses(model, images, labels)['total_loss']  # pylint: disable=protected-access
    return loss, tape.gradient(loss, model.trainable_variables)

  batches = [_batch(size, seed) for seed, size in enumerate(SIZES)]
  # Eager on each batch's static shape (the first call builds the variables
  # outside any tf.cond).
  wanted = [loss_and_grads(*batch) for batch in batches]
  spec = tf.nest.map_structure(tf.TensorSpec.from_tensor, batches[0])
  spec = (tf.TensorSpec([1, None, None, 3], tf.float32), spec[1])
  dynamic = tf.function(loss_and_grads, input_signature=spec)
  for (want_loss, want_grads), batch in zip(wanted, batches):
    got_loss, got_grads = dynamic(*batch)
    assert np.isfinite(want_loss) and want_loss > 0
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-5)
    nonzero = 0
    for got, want in zip(got_grads, want_grads):
      if want is None:
        assert got is None
        continue
      np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
      nonzero += int(np.abs(want).max() > 0)
    assert nonzero > 10
  # One trace for both orientations (the trainer's case).
  assert dynamic.experimental_get_tracing_count() == 1
