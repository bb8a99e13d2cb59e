# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The gt padding after a batch's last instance is dropped (`gt_rows_in_use`)
without changing a training step: same losses, same gradients.

Stage 4 appends the gt boxes to its RoIs (`cascade.stage4_gt_boxes`), so with
`max_num_instances` 100 and a few instances per image stages 4 and 5 ran their
heads on ~100 rows of padding (VGG-16: 164 instead of 64 + n rows through
fc6 / fc7).
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from official.core import exp_factory

from mnc_tf.configs import mnc_experiments  # pylint: disable=unused-import
from mnc_tf.modeling import mnc_model
from mnc_tf.tasks import mnc_task

SIZE = (48, 64)


def test_gt_rows_in_use_against_numpy():
  rng = np.random.default_rng(0)
  cases = [np.zeros((2, 5), bool), np.ones((1, 3), bool),
           np.array([[True, False, True, False, False],
                     [False, False, False, False, False]])]
  cases += [rng.random((3, 7)) < 0.3 for _ in range(20)]
  for valid in cases:
    last = [np.nonzero(row)[0].max() + 1 if row.any() else 0 for row in valid]
    want = max(max(last), 1)
    assert int(mnc_model.gt_rows_in_use(tf.constant(valid))) == want, valid


def _batch(num_rows):
  """One image, 2 instances, then a padded row in the middle (a crowd-less
  invalid box), a third instance, then padding up to `num_rows`."""
  boxes = -np.ones((num_rows, 4), np.float32)
  classes = -np.ones((num_rows,), np.int32)
  crops = np.zeros((num_rows, 16, 16), np.uint8)
  boxes[:4] = [[4, 6, 30, 40], [20, 10, 44, 30], [-1, -1, -1, -1],
               [8, 30, 26, 60]]
  classes[:4] = [1, 4, -1, 2]
  crops[[0, 1, 3], 2:14, 3:12] = 255
  h, w = SIZE
  labels = {
      'image_info': tf.constant([[[h, w], [h, w], [1, 1], [0, 0]]],
                                tf.float32),
      'gt_boxes': tf.constant(boxes[None]),
      'gt_classes': tf.constant(classes[None]),
      'gt_masks': {'crops': tf.constant(crops[None])},
      'gt_is_crowd': tf.zeros([1, num_rows], tf.int32),
      'gt_num_instances': tf.constant([3], tf.int32),
      'source_id': tf.constant([0], tf.int64),
  }
  images = tf.constant(np.random.default_rng(1).normal(size=(1, h, w, 3)),
                       tf.float32)
  return images, labels


def _deterministic_uniform(shape, *unused_args, **unused_kwargs):
  """Sampling priorities that agree on a common prefix of two shapes."""
  count = tf.reduce_prod(shape)
  values = tf.math.floormod(
      tf.range(count, dtype=tf.float32) * 0.6180339887 + 0.1, 1.0)
  return tf.reshape(values, shape)


@pytest.mark.slow
def test_dropping_gt_padding_keeps_losses_and_gradients(monkeypatch):
  monkeypatch.setattr(tf.random, 'uniform', _deterministic_uniform)
  config = exp_factory.get_exp_config('mnc_shapes_demo')
  config.task.train_data.parser.override(
      {'scale': 48, 'max_size': 64, 'padded_size': list(SIZE),
       'max_num_instances': 12, 'mask_crop_size': 16}, is_strict=True)
  config.task.model.cascade.num_train_stages = 5
  task = mnc_task.MncTask(config.task)
  tf_keras.utils.set_random_seed(1)
  model = task.build_model()
  keep_all = lambda valid: tf.shape(valid)[1]

  def loss_and_grads(images, labels):
    outputs = task._forward_train(model, images, labels)  # pylint: disable=protected-access
    with tf.GradientTape() as tape:
      loss = task._train_losses(model, images, labels)['total_loss']  # pylint: disable=protected-access
    grads = tape.gradient(loss, model.trainable_variables)
    return tf.shape(outputs['stage5_cls_mask_logits'])[1], loss, grads

  def step(num_rows, trim):
    with monkeypatch.context() as patch:
      if not trim:
        patch.setattr(mnc_model, 'gt_rows_in_use', keep_all)
      # In a graph, as the trainer runs it: the gt rows in use are a
      # dynamic dimension there (eager sees concrete shapes).
      rows, loss, grads = tf.function(loss_and_grads)(*_batch(num_rows))
    return (int(rows), float(loss),
            [None if g is None else g.numpy() for g in grads])

  loss_and_grads(*_batch(4))  # Builds the variables (eagerly).
  rows_tight, loss_tight, grads_tight = step(4, trim=False)
  rows_padded, loss_padded, grads_padded = step(12, trim=False)
  rows_trimmed, loss_trimmed, grads_trimmed = step(12, trim=True)
  k = config.task.model.roi_sampler.num_samples
  assert (rows_tight, rows_padded, rows_trimmed) == (k + 4, k + 12, k + 4)
  assert np.isfinite(loss_padded) and loss_padded > 0
  # The padding changes nothing (what the trim relies on) ...
  np.testing.assert_allclose(loss_padded, loss_tight, rtol=1e-6)
  # ... and the trim gives the untrimmed step's numbers.
  np.testing.assert_allclose(loss_trimmed, loss_padded, rtol=1e-6)
  nonzero = 0
  for var, want, tight, got in zip(model.trainable_variables, grads_padded,
                                   grads_tight, grads_trimmed):
    assert (want is None) == (got is None) == (tight is None), var.name
    if want is None:
      continue
    np.testing.assert_allclose(tight, want, rtol=1e-4, atol=1e-7,
                               err_msg=var.name)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7,
                               err_msg=var.name)
    nonzero += int(np.abs(want).max() > 0)
  assert nonzero >= len(grads_padded) // 2
