# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The cascade's loss L = L1 + L2 + L3 (+ L4 + L5) (paper Eq. 5, §5).

A plain function of the training outputs of `MncModel` (predictions with
their targets) and the `MncLosses` config.  The mask and class-wise box
terms compute exactly Model Garden's `MaskrcnnLoss` / `FastrcnnBoxLoss`
(tested against them) but in the dtype of their inputs, so a float64 model
gets float64 losses (Keras' loss reductions run in float32, which would
drown a float64 finite-difference check); the two classification terms are
weighted so that padding samples count for nothing.

Terms (each reported by name, see `stage_names`):
  stage1_rpn_score  sigmoid cross-entropy over the sampled anchors
  stage1_rpn_box    smooth-L1 over the positive anchors: the original
                    release's (sigma 3, summed, / sampled anchors) or Model
                    Garden's (Huber, / 4 x positives), `rpn_box_loss_type`
  stage{2,4}_mask   per-pixel logistic loss over positive RoIs
  stage{3,5}_cls_mask  softmax cross-entropy, mask-level labels
  stage{3,5}_cls_box   softmax cross-entropy, box-level labels
  stage{3,5}_box    class-wise smooth-L1 on box-level positives
  stage{s}_loss     weighted sum of stage s's terms
  total_loss        sum of the stage losses times `stage_weights`
"""

import tensorflow as tf

from mnc_tf.modeling import stage_names

RPN_BOX_LOSS_TYPES = ('smooth_l1_per_sampled_anchor', 'huber_per_positive')


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


def _replica_mean(value):
  """Mean over replicas (as Model Garden normalizes its Mask R-CNN losses)."""
  context = tf.distribute.get_replica_context()
  if context is None:
    return value
  return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)


def huber(x, delta):
  """Huber loss of residuals `x`: 0.5 x^2 for |x| <= delta, else linear."""
  absolute = tf.abs(x)
  quadratic = tf.minimum(absolute, delta)
  return 0.5 * quadratic * quadratic + delta * (absolute - quadratic)


def mask_loss(mask_logits, mask_targets, mask_weights):
  """Model Garden's `MaskrcnnLoss`, in the dtype of the logits.

  Args:
    mask_logits: `[B, K, m, m]`.
    mask_targets: `[B, K, m, m]` in [0, 1].
    mask_weights: `[B, K]`, > 0 for the RoIs that have a mask target.

  Returns:
    scalar: summed per-pixel logistic loss over the weighted RoIs / (their
    pixel count, averaged over replicas, + 0.01).
  """
  logits = _loss_dtype(mask_logits)
  weights = tf.cast(mask_weights > 0, logits.dtype)[..., None, None]
  weights *= tf.ones_like(logits)
  per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(
      labels=tf.cast(mask_targets, logits.dtype), logits=logits)
  return tf.reduce_sum(per_pixel * weights) / (
      _replica_mean(tf.reduce_sum(weights)) + 0.01)


def class_box_loss(box_outputs, class_targets, box_targets, delta=1.0):
  """Model Garden's `FastrcnnBoxLoss`, in the dtype of the outputs.

  Args:
    box_outputs: `[B, K, 4(N+1)]` class-wise deltas.
    class_targets: int `[B, K]` (0 background: no box term).
    box_targets: `[B, K, 4]` encoded targets.
    delta: Huber transition.

  Returns:
    scalar: Huber loss of the target class's deltas summed over the positive
    RoIs' coordinates / (their count x 4, averaged over replicas, + 0.01).
  """
  outputs = _loss_dtype(box_outputs)
  class_targets = tf.cast(class_targets, tf.int32)
  num_classes = outputs.shape[-1] // 4
  outputs = tf.reshape(outputs, tf.concat(
      [tf.shape(outputs)[:2], [num_classes, 4]], axis=0))  # K may be dynamic
  chosen = tf.einsum('bnij,bni->bnj', outputs,
                     tf.one_hot(class_targets, num_classes,
                                dtype=outputs.dtype))
  weights = tf.cast(class_targets > 0, outputs.dtype)[..., None]
  weights *= tf.ones_like(chosen)
  per_coord = huber(chosen - tf.cast(box_targets, outputs.dtype), delta)
  return tf.reduce_sum(per_coord * weights) / (
      _replica_mean(tf.reduce_sum(weights)) + 0.01)


def rpn_box_loss(rpn_boxes, box_targets, score_targets,
                 loss_type='smooth_l1_per_sampled_anchor', sigma=3.0,
                 huber_delta=1.0 / 9.0):
  """Stage-1 box regression loss over the positive anchors.

  Args:
    rpn_boxes: `[B, h, w, 4A]` predicted deltas.
    box_targets: `[B, h, w, 4A]` encoded targets (zero where not positive).
    score_targets: int `[B, h, w, A]`: 1 positive, 0 negative, -1 ignored.
    loss_type: 'smooth_l1_per_sampled_anchor' -- the original release
      (py-faster-rcnn's `SmoothL1Loss` with sigma 3 in
      `models/VGG16/mnc_5stage/train.prototxt`; `anchor_target_layer.py`
      gives each sampled anchor the outside weight 1 / (number of sampled
      anchors)): per image, smooth-L1_sigma summed over the four coordinates
      of the positive anchors (and of negatives that carry a non-zero
      target: MIX_INDEX with `mix_background_box_targets`), divided by the
      image's sampled anchors (labels >= 0), then averaged over the images.  'huber_per_positive' -- Model Garden's
      `RpnBoxLoss`: Huber(`huber_delta`) summed over the anchors with a
      non-zero target / (4 x their number, averaged over replicas, + 0.01).
    sigma: smooth-L1 sigma (transition at 1 / sigma^2).
    huber_delta: Huber transition of 'huber_per_positive'.

  Returns:
    scalar.
  """
  outputs = _loss_dtype(rpn_boxes)
  targets = tf.cast(box_targets, outputs.dtype)
  if loss_type == 'huber_per_positive':
    shape = [-1] + targets.shape[1:3].as_list() + [targets.shape[-1] // 4, 4]
    positive = tf.reduce_any(tf.abs(tf.reshape(targets, shape)) > 1e-6,
                             axis=-1)
    weights = tf.cast(tf.repeat(positive, 4, axis=-1), outputs.dtype)
    per_coord = huber(outputs - targets, huber_delta)
    return tf.reduce_sum(per_coord * weights) / (
        _replica_mean(tf.reduce_sum(weights)) + 0.01)
  if loss_type != 'smooth_l1_per_sampled_anchor':
    raise ValueError(f'rpn_box_loss_type must be one of {RPN_BOX_LOSS_TYPES}, '
                     f'got {loss_type!r}.')
  transition = 1.0 / (sigma * sigma)
  # smooth-L1_sigma(x) = Huber_{1/sigma^2}(x) * sigma^2.
  per_coord = huber(outputs - targets, transition) * (sigma * sigma)
  shape = [-1] + targets.shape[1:3].as_list() + [targets.shape[-1] // 4, 4]
  has_target = tf.reduce_any(tf.abs(tf.reshape(targets, shape)) > 1e-6,
                             axis=-1)
  regressed = (score_targets == 1) | ((score_targets == 0) & has_target)
  positive = tf.cast(tf.repeat(regressed, 4, axis=-1), outputs.dtype)
  batch = tf.shape(outputs)[0]
  summed = tf.reduce_sum(tf.reshape(per_coord * positive, [batch, -1]),
                         axis=1)
  sampled = tf.reduce_sum(tf.reshape(
      tf.cast(score_targets >= 0, outputs.dtype), [batch, -1]), axis=1)
  return tf.reduce_mean(summed / tf.maximum(sampled, 1.0))


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
  losses[key('rpn_box', rpn)] = rpn_box_loss(
      outputs['rpn_boxes'], outputs['rpn_box_targets'],
      outputs['rpn_score_targets'], config.rpn_box_loss_type,
      config.rpn_smooth_l1_sigma, config.rpn_huber_loss_delta)
  stage_losses = {rpn: config.rpn_score_weight * losses[key('rpn_score', rpn)]
                       + config.rpn_box_weight * losses[key('rpn_box', rpn)]}

  for mask_stage, cls_stage in stage_names.stage_pairs(5):
    if key('mask_logits', mask_stage) not in outputs:
      continue
    out = stage_outputs(outputs, mask_stage, cls_stage)
    terms = stage_pair_losses(out, config.box_huber_loss_delta)
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
  """The unprefixed outputs of one stage pair (as `CascadeHead._run_stage`)."""
  out = {}
  for stage in (mask_stage, cls_stage):
    prefix = stage_names.stage_key('', stage)
    out.update({name[len(prefix):]: value for name, value in outputs.items()
                if name.startswith(prefix)})
  return out


def stage_pair_losses(out, box_huber_loss_delta=1.0):
  """Unweighted loss terms of one mask / classifier stage pair.

  Args:
    out: unprefixed outputs and targets of the pair (the two dicts of
      `CascadeHead._run_stage` merged, or `stage_outputs`).
    box_huber_loss_delta: see `MncLosses`.

  Returns:
    dict `mask`, `cls_mask`, `cls_box`, `box` of scalars in the dtype of the
    logits (float32 for half-precision logits).
  """
  weights = out['sample_weights']
  return {
      'mask': mask_loss(out['mask_logits'], out['mask_targets'],
                        out['mask_weights']),
      'cls_mask': weighted_classification_loss(
          out['cls_mask_logits'], out['cls_mask_targets'], weights),
      'cls_box': weighted_classification_loss(
          out['cls_box_logits'], out['cls_box_targets'], weights),
      'box': class_box_loss(out['box_outputs'], out['cls_box_targets'],
                            out['box_targets'], box_huber_loss_delta),
  }
