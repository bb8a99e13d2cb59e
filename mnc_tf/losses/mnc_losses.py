# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The cascade's loss L = L1 + L2 + L3 (+ L4 + L5) (paper Eq. 5, §5).

A plain function of the training outputs of `MncModel` (predictions with
their targets) and the `MncLosses` config.  Model Garden's Mask R-CNN losses
are reused for the RPN box, the class-wise box and the mask terms; the two
classification terms are weighted so that padding samples count for nothing.

Terms (each reported by name):
  stage1_rpn_score  sigmoid cross-entropy over the sampled anchors
  stage1_rpn_box    smooth-L1 over the positive anchors (Model Garden)
  stage{2,4}_mask   per-pixel logistic loss over positive RoIs (Model Garden)
  stage{3,5}_cls_mask  softmax cross-entropy, mask-level labels
  stage{3,5}_cls_box   softmax cross-entropy, box-level labels
  stage{3,5}_box    class-wise smooth-L1 on box-level positives (Model Garden)
  stage{s}_loss     weighted sum of stage s's terms
  total_loss        sum of the stage losses times `stage_weights`
"""

import tensorflow as tf

from mnc_tf.modeling import stage_names
from official.vision.losses import maskrcnn_losses


def _loss_dtype(x):
  """float64 stays float64 (gradient checks); other floats become float32."""
  x = tf.convert_to_tensor(x)
  return x if x.dtype == tf.float64 else tf.cast(x, tf.float32)


def _per_image_mean(values, weights):
  """Mean over images of each image's weighted average.

  Each image is normalized by its own weight (as one image per GPU in the
  original release), so B images on one device and one image on each of B
  replicas (losses summed after Model Garden divides by the replica count)
  give the same loss and gradients.

  Args:
    values: `[B, ...]` per-sample losses.
    weights: `[B, ...]` sample weights (0 for ignored samples).

  Returns:
    scalar.
  """
  batch = tf.shape(values)[0]
  values = tf.reshape(values * weights, [batch, -1])
  weights = tf.reshape(weights, [batch, -1])
  per_image = tf.reduce_sum(values, axis=1) / tf.maximum(
      tf.reduce_sum(weights, axis=1), 1.0)
  return tf.reduce_mean(per_image)


def rpn_score_loss(logits, score_targets):
  """Objectness loss: per image, the average over its sampled anchors.

  Args:
    logits: `[B, h, w, A]` objectness logits.
    score_targets: int `[B, h, w, A]`, 1 / 0 sampled, -1 ignored.

  Returns:
    scalar.
  """
  sampled = tf.cast(score_targets >= 0, tf.float32)
  labels = tf.cast(tf.maximum(score_targets, 0), tf.float32)
  per_anchor = tf.nn.sigmoid_cross_entropy_with_logits(
      labels=labels, logits=tf.cast(logits, tf.float32))
  return _per_image_mean(per_anchor, sampled)


def weighted_classification_loss(logits, class_targets, weights):
  """Softmax cross-entropy: per image, the weighted average over samples.

  Args:
    logits: `[B, K, C]`.
    class_targets: int `[B, K]` in [0, C).
    weights: `[B, K]` (0 for padding samples).

  Returns:
    scalar.
  """
  logits = _loss_dtype(logits)
  ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(class_targets, tf.int32), logits=logits)
  return _per_image_mean(ce, tf.cast(weights, logits.dtype))


def compute_losses(outputs, config):
  """Named per-stage losses and their weighted total.

  Args:
    outputs: the dict `MncModel(..., training=True)` returns.
    config: `configs.model.MncLosses`.

  Returns:
    dict of scalar tensors named by `stage_names` (see the module docstring);
    stages 4 and 5 appear only when the model was trained with 5 stages.
  """
  if len(config.stage_weights) != 5:
    raise ValueError('losses.stage_weights needs 5 entries (stages 1-5), got '
                     f'{config.stage_weights}.')
  key = stage_names.stage_key
  rpn = stage_names.RPN_STAGE
  losses = {}
  losses[key('rpn_score', rpn)] = rpn_score_loss(outputs['rpn_scores'],
                                                 outputs['rpn_score_targets'])
  losses[key('rpn_box', rpn)] = maskrcnn_losses.RpnBoxLoss(
      config.rpn_huber_loss_delta)(
          {'0': tf.cast(outputs['rpn_boxes'], tf.float32)},
          {'0': outputs['rpn_box_targets']})
  stage_losses = {rpn: config.rpn_score_weight * losses[key('rpn_score', rpn)]
                       + config.rpn_box_weight * losses[key('rpn_box', rpn)]}

  mask_loss = maskrcnn_losses.MaskrcnnLoss()
  box_loss = maskrcnn_losses.FastrcnnBoxLoss(config.box_huber_loss_delta)
  for mask_stage, cls_stage in stage_names.stage_pairs(5):
    if key('mask_logits', mask_stage) not in outputs:
      continue
    out = stage_outputs(outputs, mask_stage, cls_stage)
    terms = stage_pair_losses(out, mask_loss, box_loss)
    losses.update(stage_names.prefixed({'mask': terms['mask']}, mask_stage))
    losses.update(stage_names.prefixed(
        {t: terms[t] for t in stage_names.CLASSIFIER_LOSS_TERMS}, cls_stage))
    stage_losses[mask_stage] = config.mask_weight * terms['mask']
    stage_losses[cls_stage] = (config.cls_mask_weight * terms['cls_mask']
                               + config.cls_box_weight * terms['cls_box']
                               + config.box_weight * terms['box'])
  total = 0.0
  for stage, value in sorted(stage_losses.items()):
    losses[key(stage_names.STAGE_LOSS, stage)] = value
    total += config.stage_weights[stage - 1] * value
  losses['total_loss'] = total
  return losses


def stage_outputs(outputs, mask_stage, cls_stage):
  """The unprefixed outputs of one stage pair (as `MncModel.run_stage`)."""
  out = {}
  for stage in (mask_stage, cls_stage):
    prefix = stage_names.stage_key('', stage)
    out.update({name[len(prefix):]: value for name, value in outputs.items()
                if name.startswith(prefix)})
  return out


def stage_pair_losses(out, mask_loss=None, box_loss=None,
                      box_huber_loss_delta=1.0):
  """Unweighted loss terms of one mask / classifier stage pair.

  Args:
    out: unprefixed outputs and targets of the pair (`MncModel.run_stage`'s
      two dicts merged, or `stage_outputs`).
    mask_loss: Model Garden `MaskrcnnLoss` (None: a new one).
    box_loss: Model Garden `FastrcnnBoxLoss` (None: one with
      `box_huber_loss_delta`).
    box_huber_loss_delta: see `MncLosses`.

  Returns:
    dict `mask`, `cls_mask`, `cls_box`, `box` of scalars in the dtype of the
    logits (float32 for half-precision logits).
  """
  mask_loss = mask_loss or maskrcnn_losses.MaskrcnnLoss()
  box_loss = box_loss or maskrcnn_losses.FastrcnnBoxLoss(box_huber_loss_delta)
  mask_logits = _loss_dtype(out['mask_logits'])
  box_outputs = _loss_dtype(out['box_outputs'])
  weights = out['sample_weights']
  return {
      'mask': mask_loss(mask_logits,
                        tf.cast(out['mask_targets'], mask_logits.dtype),
                        tf.cast(out['mask_weights'], mask_logits.dtype)),
      'cls_mask': weighted_classification_loss(
          out['cls_mask_logits'], out['cls_mask_targets'], weights),
      'cls_box': weighted_classification_loss(
          out['cls_box_logits'], out['cls_box_targets'], weights),
      'box': box_loss(box_outputs, out['cls_box_targets'],
                      tf.cast(out['box_targets'], box_outputs.dtype)),
  }
