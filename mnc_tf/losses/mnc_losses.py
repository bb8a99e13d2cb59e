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

from official.vision.losses import maskrcnn_losses


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
  ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(class_targets, tf.int32), logits=tf.cast(logits,
                                                              tf.float32))
  return _per_image_mean(ce, tf.cast(weights, tf.float32))


def compute_losses(outputs, config):
  """Named per-stage losses and their weighted total.

  Args:
    outputs: the dict `MncModel(..., training=True)` returns.
    config: `configs.model.MncLosses`.

  Returns:
    dict of scalar float32 tensors (see the module docstring); stages 4 and 5
    appear only when the model was trained with 5 stages.
  """
  if len(config.stage_weights) != 5:
    raise ValueError('losses.stage_weights needs 5 entries (stages 1-5), got '
                     f'{config.stage_weights}.')
  losses = {}
  losses['stage1_rpn_score'] = rpn_score_loss(outputs['rpn_scores'],
                                              outputs['rpn_score_targets'])
  losses['stage1_rpn_box'] = maskrcnn_losses.RpnBoxLoss(
      config.rpn_huber_loss_delta)(
          {'0': tf.cast(outputs['rpn_boxes'], tf.float32)},
          {'0': outputs['rpn_box_targets']})
  stage_losses = {1: config.rpn_score_weight * losses['stage1_rpn_score']
                     + config.rpn_box_weight * losses['stage1_rpn_box']}

  mask_loss = maskrcnn_losses.MaskrcnnLoss()
  box_loss = maskrcnn_losses.FastrcnnBoxLoss(config.box_huber_loss_delta)
  for stage in (2, 4):
    prefix = f'stage{stage}_'
    if prefix + 'mask_logits' not in outputs:
      continue
    term = mask_loss(tf.cast(outputs[prefix + 'mask_logits'], tf.float32),
                     outputs[prefix + 'mask_targets'],
                     outputs[prefix + 'mask_weights'])
    losses[prefix + 'mask'] = term
    stage_losses[stage] = config.mask_weight * term
  for stage in (3, 5):
    prefix = f'stage{stage}_'
    if prefix + 'cls_mask_logits' not in outputs:
      continue
    weights = outputs[prefix + 'sample_weights']
    cls_mask = weighted_classification_loss(
        outputs[prefix + 'cls_mask_logits'],
        outputs[prefix + 'cls_mask_targets'], weights)
    cls_box = weighted_classification_loss(
        outputs[prefix + 'cls_box_logits'],
        outputs[prefix + 'cls_box_targets'], weights)
    box = box_loss(tf.cast(outputs[prefix + 'box_outputs'], tf.float32),
                   outputs[prefix + 'cls_box_targets'],
                   outputs[prefix + 'box_targets'])
    losses[prefix + 'cls_mask'] = cls_mask
    losses[prefix + 'cls_box'] = cls_box
    losses[prefix + 'box'] = box
    stage_losses[stage] = (config.cls_mask_weight * cls_mask
                           + config.cls_box_weight * cls_box
                           + config.box_weight * box)
  total = tf.constant(0.0)
  for stage, value in sorted(stage_losses.items()):
    losses[f'stage{stage}_loss'] = value
    total += config.stage_weights[stage - 1] * value
  losses['total_loss'] = total
  return losses
