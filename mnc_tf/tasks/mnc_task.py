# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The Model Garden Task of MNC: model, inputs, losses, train / eval steps.

Training logs every loss term by name (as the loss module names them), the
weight decay term `l2_loss` and `total_loss`; Model Garden's trainer adds
`learning_rate` and Orbit `steps_per_second`; with
`task.train_data.skip_damaged_records` also `damaged_records_skipped` (the
damaged TFRecord records the input pipeline skipped so far). Evaluation
reports COCO box and mask AP (`box_AP`, ..., `mask_AP`, `mask_AP50`, ...)
and SDS mAP^r (`mAPr50`, `mAPr70`), writes them to
`<model_dir>/eval_metrics.json`, and draws the predictions on the first validation images
(`image/validation_predictions`, also saved as PNG files in
`<model_dir>/validation_predictions/step_<N>/`).
"""
import json
import os
from typing import Dict, List

from absl import logging
import numpy as np
import tensorflow as tf
import tf_keras

from official.core import base_task
from official.core import task_factory

from mnc_tf.configs import data as data_config
from mnc_tf.configs import mnc_experiments as exp_cfg
from mnc_tf.data import input_pipeline
from mnc_tf.evaluation import batch_conversion
from mnc_tf.evaluation import instance_evaluator
from mnc_tf.evaluation import metrics_io
from mnc_tf.losses import mnc_losses
from mnc_tf.modeling import factory
from mnc_tf.modeling import stage_names
from mnc_tf.ops import gradients
from mnc_tf.ops import mask_paste
from mnc_tf.tasks import eval_images
from mnc_tf.tasks import weight_decay

_EVAL_KEY = 'mnc_eval'
_IMAGE_KEY = 'mnc_eval_image'
_OUTPUT_KEYS = ('num_detections', 'detection_boxes', 'detection_classes',
                'detection_scores', 'detection_masks', 'detection_mask_boxes')


def loss_names(num_train_stages: int) -> List[str]:
  """The loss terms `mnc_losses.compute_losses` reports, plus the task's.

  `total_loss` = `model_loss` (the cascade's weighted sum, Eq. 5) + `l2_loss`
  (weight decay from the layers' kernel regularizers and, with
  `losses.bias_weight_decay`, of their biases).
  """
  return ['total_loss', 'model_loss', 'l2_loss'] + stage_names.loss_names(
      num_train_stages)


def box_gradient_metric_names(cascade) -> Dict[str, str]:
  """The training metrics of the box-path clip: metric name -> pathway.

  `<pathway>_box_gradient_at_clip`: of the gradient elements that reach the
  pathway's box deltas through the boxes (non-zero), the share at the clip
  (`gradients.clip_share`); the RPN deltas (`rpn`) and, with 5 training
  stages, the stage-3 deltas (`stage3`).  None without a box gradient or a
  clip.

  Args:
    cascade: the `task.model.cascade` config.
  """
  if not cascade.box_gradient or not cascade.box_gradient_clip:
    return {}
  pathways = gradients.PATHWAYS if cascade.num_train_stages > 3 else ('rpn',)
  return {f'{p}_box_gradient_at_clip': p for p in pathways}


class RunningMax(tf_keras.metrics.Metric):
  """The largest value seen since the last reset (a running count's latest).

  Orbit resets the training metrics every loop; fed a running count, the
  result is that count at the end of the loop. Under a distribution
  strategy it reports the first replica's value (replicas fed by one input
  pipeline see the same count; summing would multiply it).
  """

  def __init__(self, name, dtype=tf.float32):
    super().__init__(name=name, dtype=dtype)
    self.value = self.add_weight(
        'value', initializer='zeros', dtype=dtype,
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

  def update_state(self, value):
    return self.value.assign(tf.maximum(self.value, tf.cast(value,
                                                            self.dtype)))

  def result(self):
    return tf.identity(self.value)

  def reset_state(self):
    self.value.assign(tf.zeros_like(self.value))


@task_factory.register_task_cls(exp_cfg.MncTask)
class MncTask(base_task.Task):
  """Multi-task Network Cascades as a Model Garden task."""

  loss = 'total_loss'

  def __init__(self, params, logging_dir=None, name=None):
    super().__init__(params, logging_dir=logging_dir, name=name)
    self._evaluator = None
    self._class_names = None
    self._decayed_kernels = {}  # id(model) -> weight_decay pairs.
    self._decayed_biases = {}  # id(model) -> weight_decay pairs.

  # ------------------------------------------------------------------ build
  def build_model(self) -> tf_keras.Model:
    """Builds the MNC model from `task.model`, with L2 kernel regularizers.

    Weight decay follows Model Garden: every conv / fc kernel gets
    `l2(l2_weight_decay / 2)`, i.e. Caffe's `weight_decay` (the gradient gains
    `l2_weight_decay * w`); the terms reach the loss as `model.losses`.
    """
    return factory.build_mnc_model(
        self.task_config.model,
        l2_regularizer=factory.l2_regularizer_from(self.task_config.losses))

  def build_inputs(self, params, input_context=None) -> tf.data.Dataset:
    """Batched (images, labels) from `params.input_path` (TFRecords)."""
    if not params.input_path:
      raise ValueError(
          'No input_path for the %s data: set task.%s.input_path (a YAML file '
          'in configs/experiments/ or --params_override).' % (
              'training' if params.is_training else 'validation',
              'train_data' if params.is_training else 'validation_data'))
    return input_pipeline.build_dataset(params.input_path, params,
                                        input_context)

  def build_metrics(self, training: bool = True):
    """Training: a running mean per loss term; evaluation: host-side only."""
    if training:
      cascade = self.task_config.model.cascade
      metrics = [tf_keras.metrics.Mean(name, dtype=tf.float32)
                 for name in loss_names(cascade.num_train_stages) +
                 list(box_gradient_metric_names(cascade))]
      if self.task_config.train_data.skip_damaged_records:
        metrics.append(RunningMax(input_pipeline.DAMAGED_RECORDS_KEY))
      return metrics
    self._evaluator = instance_evaluator.InstanceSegmentationEvaluator(
        annotation_file=self.task_config.annotation_file or None,
        sds_iou_thresholds=self.task_config.sds_iou_thresholds,
        sds_use_07_metric=self.task_config.sds_use_07_metric,
        max_num_eval_detections=self.task_config.max_num_eval_detections,
        per_category_metrics=self.task_config.per_category_metrics,
        size_bins=self.task_config.size_bins)
    return []

  def build_losses(self, outputs, labels=None,
                   aux_losses=None) -> Dict[str, tf.Tensor]:
    """Per-term losses, `model_loss`, `l2_loss` and `total_loss`.

    The terms are normalized over the global batch (Model Garden's
    convention: a term's normalizer is all-reduced over the replicas, so the
    mean of the replicas' losses is the one-device loss of the whole batch).

    Args:
      outputs: the model's training outputs.
      labels: unused (the model computes its targets from the ground truth
        passed to it).
      aux_losses: the model's regularization losses (`model.losses`).
    """
    del labels
    losses = dict(mnc_losses.compute_losses(outputs, self.task_config.losses))
    model_loss = losses.pop('total_loss')
    l2 = tf.add_n(aux_losses) if aux_losses else tf.constant(0.0)
    losses['model_loss'] = model_loss
    losses['l2_loss'] = l2
    losses['total_loss'] = model_loss + l2
    return losses

  # ------------------------------------------------------------------ steps
  def _biases(self, model):
    """`weight_decay.regularized_biases` with `losses.bias_weight_decay`."""
    if not self.task_config.losses.bias_weight_decay:
      return []
    if id(model) not in self._decayed_biases:
      self._decayed_biases[id(model)] = weight_decay.regularized_biases(model)
    return self._decayed_biases[id(model)]

  def _weight_decay_terms(self, model):
    """The decay loss terms: `model.losses` (kernels) and the biases'."""
    terms = list(model.losses)
    biases = self._biases(model)
    if biases:
      terms.append(weight_decay.l2_loss(biases))
    return terms

  def _forward_train(self, model, images, labels, box_gradient=None):
    scale, counts = box_gradient or (None, None)
    return model(images, labels['image_info'],
                 gt_boxes=labels['gt_boxes'], gt_classes=labels['gt_classes'],
                 gt_masks=labels['gt_masks'], training=True,
                 box_gradient_scale=scale, box_gradient_counts=counts)

  def _train_losses(self, model, images, labels, include_l2=True,
                    box_gradient=None):
    """Forward pass + `build_losses` of a training batch.

    `include_l2=False` leaves the weight decay term out (`l2_loss` 0).
    `box_gradient`: optional (scale, counts) of the box-path clip (the
    model's `box_gradient_scale` / `box_gradient_counts`).

    With `train_data.parser.oriented_padding` the batches come in two shapes
    (landscape [B, h, w, 3], portrait [B, w, h, 3]) and a trainer's
    `tf.function` sees [B, None, None, 3]; the model needs a static size
    (anchors), so the batch goes through a `tf.cond` with one branch per
    orientation, each with the static shape of its orientation: the same
    computation (and gradients) as a call on that shape, two traced copies
    of the forward pass in one function.
    """
    parser = self.task_config.train_data.parser
    if images.shape[1:3].is_fully_defined() or not parser.oriented_padding:
      outputs = self._forward_train(model, images, labels, box_gradient)
      return self.build_losses(
          outputs, labels,
          aux_losses=self._weight_decay_terms(model) if include_l2 else None)
    sizes = data_config.oriented_padded_sizes(parser)

    def branch(size):
      def forward():
        shaped_images = tf.ensure_shape(
            images, [images.shape[0]] + size + [images.shape[3]])
        shaped_labels = dict(labels)
        if not isinstance(labels['gt_masks'], dict):  # full-image masks
          shaped_labels['gt_masks'] = tf.ensure_shape(
              labels['gt_masks'], labels['gt_masks'].shape[:2] + size)
        outputs = self._forward_train(model, shaped_images, shaped_labels,
                                      box_gradient)
        return self.build_losses(
            outputs, shaped_labels,
            aux_losses=(self._weight_decay_terms(model) if include_l2
                        else None))
      return forward

    if len(sizes) == 1:
      return branch(sizes[0])()
    landscape = tf.shape(images)[1] <= tf.shape(images)[2]
    return tf.cond(landscape, branch(sizes[0]), branch(sizes[1]))

  def compute_loss_and_gradients(self, inputs, model, optimizer=None):
    """Per-replica losses and the gradients of total_loss / num_replicas.

    With a `LossScaleOptimizer` (float16 mixed precision) the loss is scaled
    and the gradients unscaled, as in Model Garden's `base_task.train_step`.
    The box-path clip (`cascade.box_gradient_clip`) is a limit per image: the
    losses average over the global batch and the differentiated loss carries
    the loss scale, so one image's gradient reaches the clip multiplied by
    loss scale / (per-replica batch x replicas), and so is the limit
    (`CascadeHead.box_gradient_clip`).  The share of the box-path gradient
    elements at the clip joins the losses dict
    (`box_gradient_metric_names`).
    With `losses.l2_weight_decay_in_gradients` the decay term is left out of
    the differentiated loss and its gradient added to each kernel's gradient
    (`weight_decay.add_to_gradients`); `l2_loss` / `total_loss` report the
    same values.

    Returns:
      (losses dict, gradients list aligned with model.trainable_variables).
    """
    images, labels = inputs
    num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
    loss_scale = isinstance(optimizer,
                            tf_keras.mixed_precision.LossScaleOptimizer)
    in_gradients = self.task_config.losses.l2_weight_decay_in_gradients
    clip_scale = 1.0 / (tf.cast(tf.shape(images)[0], tf.float32) *
                        num_replicas)
    if loss_scale:
      clip_scale *= tf.cast(optimizer.loss_scale, tf.float32)
    clip_counts = tf.zeros([len(gradients.PATHWAYS), 2])
    with tf.GradientTape() as tape:
      tape.watch(clip_counts)
      losses = self._train_losses(model, images, labels,
                                  include_l2=not in_gradients,
                                  box_gradient=(clip_scale, clip_counts))
      scaled_loss = losses['total_loss'] / num_replicas
      if loss_scale:
        scaled_loss = optimizer.get_scaled_loss(scaled_loss)
    grads, clip_counts = tape.gradient(
        scaled_loss, (model.trainable_variables, clip_counts))
    shares = gradients.clip_share(clip_counts)
    for name, pathway in box_gradient_metric_names(
        self.task_config.model.cascade).items():
      losses[name] = shares[pathway]
    if loss_scale:
      grads = optimizer.get_unscaled_gradients(grads)
    if in_gradients:
      if id(model) not in self._decayed_kernels:
        self._decayed_kernels[id(model)] = weight_decay.regularized_kernels(
            model)
      pairs = self._decayed_kernels[id(model)] + self._biases(model)
      grads = weight_decay.add_to_gradients(
          grads, model.trainable_variables, pairs, scale=1.0 / num_replicas)
      losses['l2_loss'] = weight_decay.l2_loss(pairs)
      losses['total_loss'] = losses['model_loss'] + losses['l2_loss']
    return losses, grads

  def train_step(self, inputs, model, optimizer, metrics=None):
    """One optimizer step on a per-replica batch (see base_task.Task)."""
    images, labels = inputs
    labels = dict(labels)
    skipped = labels.pop(input_pipeline.DAMAGED_RECORDS_KEY, None)
    losses, grads = self.compute_loss_and_gradients((images, labels), model,
                                                    optimizer)
    optimizer.apply_gradients(list(zip(grads, model.trainable_variables)))
    if skipped is not None:
      losses[input_pipeline.DAMAGED_RECORDS_KEY] = tf.reduce_max(skipped)
    for metric in metrics or []:
      metric.update_state(losses[metric.name])
    return {self.loss: losses['total_loss']}

  def validation_step(self, inputs, model, metrics=None):
    """Inference on a per-replica batch; evaluation happens on the host."""
    images, labels = inputs
    outputs = model(images, labels['image_info'], training=False)
    keep = {k: outputs[k] for k in _OUTPUT_KEYS}
    keep['source_id'] = labels['source_id']
    keep['image_info'] = labels['image_info']
    label_keys = ['source_id', 'image_info']
    if not self.task_config.annotation_file:
      label_keys += ['gt_num_instances', 'gt_classes', 'gt_masks',
                     'gt_is_crowd', 'groundtruths']
    logs = {_EVAL_KEY: ({k: labels[k] for k in label_keys if k in labels},
                        keep)}
    if self.task_config.allow_image_summary:
      # The first images of each batch, un-normalized to uint8 (4x smaller).
      mean = tf.constant(self.task_config.validation_data.parser.mean)
      std = tf.constant(self.task_config.validation_data.parser.stddev)
      first = tf.cast(images[:self.task_config.num_image_summaries],
                      tf.float32) * std + mean
      logs[_IMAGE_KEY] = tf.cast(
          tf.clip_by_value(tf.round(first * 255.0), 0, 255), tf.uint8)
    return logs

  # ------------------------------------------------------------- host side
  def _names(self):
    """Category id -> name, from the annotation file or the label map."""
    if self._class_names is None:
      names = {}
      path = self.task_config.annotation_file
      label_map = self.task_config.validation_data.label_map
      try:
        if path and tf.io.gfile.exists(path):
          with tf.io.gfile.GFile(path) as f:
            names = {int(c['id']): c.get('name', str(c['id']))
                     for c in json.load(f).get('categories', [])}
        elif label_map and tf.io.gfile.exists(label_map):
          with tf.io.gfile.GFile(label_map) as f:
            names = {int(k): v for k, v in json.load(f).items()}
      except (ValueError, KeyError, TypeError, tf.errors.OpError) as e:
        logging.warning('No class names (%s); drawing ids.', e)
      self._class_names = names
    return self._class_names

  def aggregate_logs(self, state=None, step_outputs=None):
    """Feeds one evaluation step's outputs to the evaluator (host side)."""
    if state is None:
      self._evaluator.reset_states()
      state = {'images': []}
    labels, outputs = step_outputs[_EVAL_KEY]
    labels = {k: (tf.nest.map_structure(batch_conversion.to_numpy, v)
                  if isinstance(v, dict) else batch_conversion.to_numpy(v))
              for k, v in labels.items()}
    outputs = {k: batch_conversion.to_numpy(v) for k, v in outputs.items()}
    threshold = self.task_config.model.detection_generator.mask_binarize_threshold
    if not self.task_config.annotation_file:
      for gt in batch_conversion.image_groundtruths(labels):
        self._evaluator.add_groundtruth(gt['image_id'], gt['height'],
                                        gt['width'], gt['classes'],
                                        gt['masks'], gt['is_crowd'])
    for b in range(outputs['source_id'].shape[0]):
      det = mask_paste.original_image_detections(
          outputs, outputs['image_info'], index=b, mask_threshold=threshold)
      n = int(det['num_detections'])
      det = {k: np.asarray(v) for k, v in det.items()}
      self._evaluator.add_detections(
          int(outputs['source_id'][b]), det['detection_boxes'][:n],
          det['detection_classes'][:n], det['detection_scores'][:n],
          det['detection_masks'][:n])
    if _IMAGE_KEY in step_outputs:
      self._draw(state, step_outputs[_IMAGE_KEY], outputs, threshold)
    return state

  def _draw(self, state, images, outputs, threshold):
    """Draws the predictions on the batch's first images into `state`."""
    # A tuple has the first images of each replica's batch.
    replicas = images if isinstance(images, (tuple, list)) else (images,)
    per_replica = outputs['source_id'].shape[0] // len(replicas)
    for r, replica_images in enumerate(replicas):
      replica_images = np.asarray(batch_conversion.to_numpy(replica_images))
      for k in range(replica_images.shape[0]):
        if len(state['images']) >= self.task_config.num_image_summaries:
          return
        index = r * per_replica + k
        state['images'].append(eval_images.draw_network_input_predictions(
            replica_images[k], outputs['image_info'][index], outputs, index,
            class_names=self._names(),
            min_score=self.task_config.image_summary_min_score,
            mask_threshold=threshold))

  def reduce_aggregated_logs(self, aggregated_logs, global_step=None):
    """Runs COCO + SDS evaluation; writes the metrics JSON; adds pictures."""
    metrics = self._evaluator.result()
    step = int(global_step.numpy()) if global_step is not None else 0
    if self.logging_dir:
      path = metrics_io.write_metrics_json(
          metrics, self.logging_dir, step,
          filename=self.task_config.metrics_filename)
      logging.info('Evaluation metrics written to %s', path)
    # train.py prints the metrics once, as a table (progress.py).
    logs = {k: v for k, v in metrics.items()}
    images = (aggregated_logs or {}).get('images') if isinstance(
        aggregated_logs, dict) else None
    if images:
      logs['image/validation_predictions'] = eval_images.stack_images(images)
      if self.logging_dir:
        directory = os.path.join(self.logging_dir, 'validation_predictions',
                                 f'step_{step:07d}')
        eval_images.write_pngs(images, directory)
        print(f'eval | pictures of predictions: {directory}', flush=True)
    return logs
