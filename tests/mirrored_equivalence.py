# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Run as a script by tests/test_distribution.py (it needs a fresh process).

Splits the CPU into 2 logical devices, then computes the MNC Task's loss and
gradients for one global batch of 2 images (a) on one device and (b) with
MirroredStrategy over the 2 devices (one image each, gradients summed as
`apply_gradients` all-reduces them), and prints the differences as JSON.

    python tests/mirrored_equivalence.py DATA_DIR [EXTRA_OVERRIDES] [copies]

EXTRA_OVERRIDES (k=v,...) are applied last, e.g. to check a training option
under the strategy.  With `copies`, both replicas get the batch's first image
and the one-device computation is that image alone (a per-image quantity,
such as the box-path clip, must then give the same gradients).
"""
import json
import sys

import tensorflow as tf

cpus = tf.config.list_physical_devices('CPU')
tf.config.set_logical_device_configuration(
    cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np
from official.core import exp_factory
from official.modeling import hyperparams
from mnc_tf.configs import mnc_experiments  # pylint: disable=unused-import
from mnc_tf.tasks import mnc_task
from tests import mnc_test_data


def main(data_dir, extra_overrides='', mode=''):
  paths = {'train_pattern': f'{data_dir}/data/train-*.tfrecord',
           'val_pattern': f'{data_dir}/data/val-*.tfrecord',
           'val_json': f'{data_dir}/shapes/val.json'}
  params = exp_factory.get_exp_config('mnc_shapes_demo')
  # Sampling that keeps every candidate (so both runs see the same samples)
  # and no flips: the two computations must be deterministic.
  params = hyperparams.override_params_dict(
      params, mnc_test_data.TINY_OVERRIDES + ',' +
      mnc_test_data.data_overrides(paths) +
      ',task.train_data.global_batch_size=2,'
      'task.train_data.shuffle_buffer_size=1,task.train_data.deterministic=true,'
      'task.train_data.parser.aug_rand_hflip=false,'
      'task.model.rpn_target_assigner.num_samples=4096,task.model.roi_sampler.num_samples=64,'
      'task.model.roi_sampler.fg_fraction=1.0,'
      # One background band with all the slots: every candidate is taken,
      # so the samples do not depend on the random draw.
      'task.model.roi_sampler.bg_iou_thresholds=[0.5,0.0],'
      'task.model.roi_sampler.bg_fractions=[1.0],'
      'task.model.cascade.box_gradient=true', is_strict=True)
  if extra_overrides:
    params = hyperparams.override_params_dict(params, extra_overrides,
                                              is_strict=True)
  task = mnc_task.MncTask(params.task)
  images, labels = next(iter(task.build_inputs(params.task.train_data)))
  copies = mode == 'copies'
  if copies:
    images, labels = images[:1], tf.nest.map_structure(lambda t: t[:1],
                                                       labels)

  single_model = task.build_model()
  single_losses, single_grads = task.compute_loss_and_gradients(
      (images, labels), single_model)
  repeat_losses, _ = task.compute_loss_and_gradients((images, labels),
                                                     single_model)
  one_image_losses = [float(task.compute_loss_and_gradients(
      (images[i:i + 1], tf.nest.map_structure(lambda t: t[i:i + 1], labels)),
      single_model)[0]['total_loss']) for i in range(images.shape[0])]

  strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
  with strategy.scope():
    mirrored_model = task.build_model()
  mirrored_model.set_weights(single_model.get_weights())

  def replica_inputs(context):
    i = 0 if copies else context.replica_id_in_sync_group
    return (images[i:i + 1], tf.nest.map_structure(
        lambda t: t[i:i + 1], labels))

  inputs = strategy.experimental_distribute_values_from_function(
      replica_inputs)

  @tf.function
  def replica_step(inputs):
    return strategy.run(task.compute_loss_and_gradients,
                        args=(inputs, mirrored_model))

  losses, grads = replica_step(inputs)
  terms = {}
  for name in sorted(single_losses):
    mirrored = float(strategy.reduce(tf.distribute.ReduceOp.MEAN,
                                     losses[name], axis=None))
    terms[name] = [float(single_losses[name]), mirrored]
  mirrored_loss = strategy.reduce(tf.distribute.ReduceOp.MEAN,
                                  losses['total_loss'], axis=None)
  mirrored_grads = [strategy.reduce(tf.distribute.ReduceOp.SUM, g, axis=None)
                    for g in grads]
  per_replica_losses = [float(v) for v in
                        strategy.experimental_local_results(
                            losses['total_loss'])]
  grad_scale = max(float(tf.reduce_max(tf.abs(g))) for g in single_grads
                   if g is not None)
  grad_diff = max(float(tf.reduce_max(tf.abs(a - b)))
                  for a, b in zip(single_grads, mirrored_grads)
                  if a is not None)
  # Per variable: largest difference / largest single-device element.
  relative_diff = max(
      float(tf.reduce_max(tf.abs(a - b)) / tf.reduce_max(tf.abs(a)))
      for a, b in zip(single_grads, mirrored_grads)
      if a is not None and np.any(a.numpy()))
  print(json.dumps({
      'replicas': strategy.num_replicas_in_sync,
      'single_loss': float(single_losses['total_loss']),
      'repeat_loss': float(repeat_losses['total_loss']),
      'mirrored_loss': float(mirrored_loss),
      'per_replica_losses': per_replica_losses,
      'one_image_losses': one_image_losses,
      'num_grads': sum(g is not None for g in single_grads),
      'num_nonzero_grads': sum(
          g is not None and bool(np.any(g.numpy() != 0))
          for g in single_grads),
      'max_abs_grad': grad_scale,
      'max_grad_diff': grad_diff,
      'max_relative_grad_diff': relative_diff,
      'terms': terms,
  }))


if __name__ == '__main__':
  main(*sys.argv[1:4])
