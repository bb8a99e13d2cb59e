# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Stages 2-5: the mask / classifier stage pair, looped over the cascade.

Stage 2 regresses a class-agnostic m x m mask in each box from RoI-warped
features; stage 3 classifies the mask-multiplied and the plain RoI features
and regresses class-wise boxes; stages 4 and 5 run the same pair again (same
weights) on the stage-3 boxes regressed with each box's top non-background
class (paper §5).  One pair is `_run_stage`, written once; `train` and
`infer` loop it (detectron2's `CascadeROIHeads._run_stage` / `_forward_box`).

In training every box that enters an RoI warp is a differentiable function of
the boxes it was given (the RPN proposals) and, in stages 4-5, of the
stage-3 deltas, unless `box_gradient` is False.
"""

import tensorflow as tf
import tf_keras

from mnc_tf.modeling import stage_names
from mnc_tf.ops import box_utils
from mnc_tf.ops import gradients
from official.vision.ops import box_ops

MASK_TARGETS = ('mask_targets', 'mask_weights')
CLASSIFIER_TARGETS = ('cls_mask_targets', 'cls_box_targets', 'box_targets',
                      'sample_weights', 'box_iou', 'mask_iou')


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class CascadeHead(tf_keras.layers.Layer):
  """The stage pairs (2, 3) and (4, 5) of MNC on one feature map.

  Its sub-layers (RoI warp, mask head, classifier head, target assigner) are
  also attributes of the model that owns this head, so their checkpoint
  paths stay `model/mask_head/...` etc.
  """

  def __init__(self, roi_warp, mask_head, classifier_head,
               cascade_target_assigner, num_classes, num_train_stages=5,
               num_inference_stages=5, box_gradient=True,
               box_gradient_clip=1.0 / 512,
               mask_gradient_from_mask_level_positives_only=True,
               stage4_gt_boxes=True, **kwargs):
    """Initializes the head from its layers and a few flags.

    Args:
      roi_warp: `RoiWarp` with the stage-2 warp size and fused pool.
      mask_head: `MaskHead` (stages 2 and 4).
      classifier_head: `MaskedClassifierHead` (stages 3 and 5).
      cascade_target_assigner: `CascadeTargetAssigner` (training); its box
        regression weights also decode the stage-3 deltas at inference.
      num_classes: N + 1 (background is index 0).
      num_train_stages: 3 or 5.
      num_inference_stages: 3 or 5.
      box_gradient: back-propagate through box coordinates.
      box_gradient_clip: element-wise clip of the gradient reaching the RPN
        and stage-3 box deltas through the boxes (0: none).
      mask_gradient_from_mask_level_positives_only: in training, the
        classifier stage's gradient reaches the mask stage's predictions
        only for its mask-level positives (the original release's
        `mask_layer.py` backward); False: for every RoI.
      stage4_gt_boxes: in training, the gt boxes join the stage-4 RoIs (the
        original release's `stage_bridge_layer.py`), so stages 4-5 see
        K + M RoIs.
      **kwargs: base layer arguments.
    """
    super().__init__(**kwargs)
    stage_names.check_num_stages('num_train_stages', num_train_stages)
    stage_names.check_num_stages('num_inference_stages', num_inference_stages)
    self._config_dict = {
        'roi_warp': roi_warp,
        'mask_head': mask_head,
        'classifier_head': classifier_head,
        'cascade_target_assigner': cascade_target_assigner,
        'num_classes': int(num_classes),
        'num_train_stages': int(num_train_stages),
        'num_inference_stages': int(num_inference_stages),
        'box_gradient': bool(box_gradient),
        'box_gradient_clip': float(box_gradient_clip or 0.0),
        'mask_gradient_from_mask_level_positives_only': bool(
            mask_gradient_from_mask_level_positives_only),
        'stage4_gt_boxes': bool(stage4_gt_boxes),
    }
    self.roi_warp = roi_warp
    self.mask_head = mask_head
    self.classifier_head = classifier_head
    self.cascade_target_assigner = cascade_target_assigner

  # ------------------------------------------------------- box gradient
  def box_gradient_clip(self, scale=None, counts=None):
    """The box-path clip of one training pass (`gradients.BoxGradientClip`).

    Args:
      scale: optional float scalar tensor multiplying `box_gradient_clip`:
        the factor each image's loss is scaled by on its way to the
        differentiated loss (`MncTask.compute_loss_and_gradients` passes
        loss scale / global batch), so that each image's gradient is clipped
        at `box_gradient_clip`.
      counts: optional float32 `[2, 2]` zeros watched by the caller's tape:
        their gradient counts the elements at the clip per pathway
        (`gradients.PATHWAYS`).
    """
    return gradients.BoxGradientClip(self._config_dict['box_gradient_clip'],
                                     scale=scale, counts=counts)

  def clip_box_gradient(self, deltas, pathway='rpn', clip=None):
    """Identity; the gradient reaching `deltas` through boxes is clipped.

    Args:
      deltas: box deltas (any shape).
      pathway: `'rpn'` or `'stage3'` (`gradients.PATHWAYS`).
      clip: a `box_gradient_clip()`; None: unscaled, uncounted.
    """
    return (clip or self.box_gradient_clip())(deltas, pathway)

  def _maybe_stop(self, boxes):
    if self._config_dict['box_gradient']:
      return boxes
    return tf.stop_gradient(boxes)

  # ---------------------------------------------------------- one stage
  def _run_stage(self, features, boxes, sample_valid=None, gt=None,
                 targets=None, training=None, fc_carrier_rows=None,
                 fc_carriers=None):
    """One mask stage (2 / 4) and its classifier stage (3 / 5).

    Args:
      features: `[B, h, w, C]` the map the RoIs are warped from.
      boxes: `[B, K, 4]` boxes (ymin, xmin, ymax, xmax; network-input
        pixels), differentiable.
      sample_valid: training: bool `[B, K]`, False for padding rows.
      gt: training: the ground-truth dict of `CascadeTargetAssigner.call`;
        None (inference) assigns no targets.
      targets: optional precomputed targets (the dict
        `CascadeTargetAssigner` returns) used instead of assigning them, so
        a caller can hold them fixed (a gradient check does).
      training: enables dropout.
      fc_carrier_rows: stage 3 of a 5-stage training with the classifier
        head's `shared_fc_gradient`: the row count of stage 5's call.
      fc_carriers: stage 5 of it: stage 3's `fc_carriers` output.

    Returns:
      mask_outputs: unprefixed dict: `boxes`, `mask_logits` `[B, K, m, m]`,
        `mask_probs`, and with targets `mask_targets`, `mask_weights`.
      classifier_outputs: unprefixed dict: `cls_mask_logits`,
        `cls_box_logits` `[B, K, N+1]`, `box_outputs` `[B, K, 4(N+1)]`, and
        with targets `cls_mask_targets`, `cls_box_targets`, `box_targets`,
        `sample_weights`, `box_iou`, `mask_iou`; with `fc_carrier_rows`
        (and the head's `shared_fc_gradient`) also `fc_carriers`.
    """
    roi_features = self.roi_warp(features, self._maybe_stop(boxes))
    mask_logits = self.mask_head(roi_features)
    mask_probs = tf.sigmoid(mask_logits)
    if targets is None and gt is not None:
      targets = self.cascade_target_assigner(boxes, sample_valid, mask_probs,
                                             gt)
    classifier_masks = mask_probs
    if (targets is not None and self._config_dict[
        'mask_gradient_from_mask_level_positives_only']):
      classifier_masks = gradients.gradient_only_where(
          mask_probs, targets['cls_mask_targets'] > 0)
    carriers = None
    if fc_carrier_rows is not None or fc_carriers is not None:
      cls_mask, cls_box, box_outputs, carriers = self.classifier_head(
          roi_features, classifier_masks, training=training,
          carrier_rows=fc_carrier_rows, carriers=fc_carriers)
    else:
      cls_mask, cls_box, box_outputs = self.classifier_head(
          roi_features, classifier_masks, training=training)
    mask_outputs = {'boxes': boxes, 'mask_logits': mask_logits,
                    'mask_probs': mask_probs}
    classifier_outputs = {'cls_mask_logits': cls_mask,
                          'cls_box_logits': cls_box,
                          'box_outputs': box_outputs}
    if targets is not None:
      for name in MASK_TARGETS:
        mask_outputs[name] = targets[name]
      for name in CLASSIFIER_TARGETS:
        classifier_outputs[name] = targets[name]
    if carriers:
      classifier_outputs['fc_carriers'] = carriers
    return mask_outputs, classifier_outputs

  # ------------------------------------------------------ between stages
  def next_stage_boxes(self, boxes, cls_mask_logits, box_outputs,
                       image_shape, clip=None):
    """Stage-3 boxes regressed by each box's top non-background class (§5).

    Args:
      boxes: `[B, K, 4]` boxes of the classifier stage.
      cls_mask_logits: `[B, K, N+1]` its mask-level logits (pick the class).
      box_outputs: `[B, K, 4(N+1)]` its class-wise deltas.
      image_shape: `[B, 2]` boxes are clipped to it.
      clip: optional `box_gradient_clip()` of the training pass.

    Returns:
      boxes: `[B, K, 4]` the next stage's boxes.
      top_class: int32 `[B, K]`.
    """
    return self._regressed_boxes(boxes, cls_mask_logits, box_outputs,
                                 image_shape, clip=clip)

  def _regressed_boxes(self, boxes, cls_mask_logits, box_outputs,
                       image_shape, top_class=None, clip=None):
    """`next_stage_boxes`; `top_class` int32 `[B, K]` may be held fixed."""
    if top_class is None:
      top_class = tf.argmax(cls_mask_logits[..., 1:], axis=-1,
                            output_type=tf.int32) + 1
    box_outputs = self.clip_box_gradient(box_outputs, 'stage3', clip)
    shape = tf.shape(box_outputs)
    deltas = tf.reshape(box_outputs,
                        [shape[0], shape[1], self._config_dict['num_classes'],
                         4])
    deltas = tf.gather(deltas, top_class, batch_dims=2)
    refined = box_ops.decode_boxes(
        deltas, boxes,
        weights=self.cascade_target_assigner.box_regression_weights)
    return (self._maybe_stop(box_utils.clip_boxes(refined, image_shape)),
            top_class)

  def _next_stage_num_rows(self, boxes, gt):
    """B x K' of `_next_stage_inputs` (K' = K, + M with stage4_gt_boxes)."""
    shape = tf.shape(boxes)
    rois = shape[1]
    if self._config_dict['stage4_gt_boxes']:
      rois += tf.shape(gt['boxes'])[1]
    return shape[0] * rois

  def _next_stage_inputs(self, boxes, sample_valid, classifier_outputs, gt,
                         image_shape, top_class=None, clip=None):
    """The RoIs of stage 4 in training: stage-3 boxes regressed (§5) + gt.

    Args:
      boxes: `[B, K, 4]` boxes of the classifier stage.
      sample_valid: bool `[B, K]`.
      classifier_outputs: `_run_stage`'s classifier dict (`cls_mask_logits`,
        `box_outputs`).
      gt: the ground-truth dict (`MncModel.ground_truth`).
      image_shape: `[B, 2]`.
      top_class: optional fixed class per box (see `_regressed_boxes`).
      clip: optional `box_gradient_clip()` of the training pass.

    Returns:
      boxes: `[B, K', 4]` (zero for padding), sample_valid `[B, K']`: the K
      regressed boxes, then (`stage4_gt_boxes`) the M gt boxes, K' = K + M;
      top_class int32 `[B, K]`.
    """
    boxes, top_class = self._regressed_boxes(
        boxes, classifier_outputs['cls_mask_logits'],
        classifier_outputs['box_outputs'], image_shape, top_class=top_class,
        clip=clip)
    boxes = tf.where(sample_valid[..., None], boxes, tf.zeros_like(boxes))
    if self._config_dict['stage4_gt_boxes']:
      gt_boxes = tf.where(gt['valid'][..., None], gt['boxes'],
                          tf.zeros_like(gt['boxes']))
      boxes = tf.concat([boxes, tf.cast(gt_boxes, boxes.dtype)], axis=1)
      sample_valid = tf.concat([sample_valid, gt['valid']], axis=1)
    return boxes, sample_valid, top_class

  # ------------------------------------------------------------ cascades
  def train(self, features, boxes, sample_valid, gt, image_shape, clip=None):
    """Stages 2-5 (or 2-3) in training.

    Args:
      features: `[B, h, w, C]` the map the RoIs are warped from.
      boxes: `[B, K, 4]` stage-2 boxes (zero for padding).
      sample_valid: bool `[B, K]`.
      gt: the ground-truth dict (`MncModel.ground_truth`).
      image_shape: `[B, 2]` (height, width) boxes are clipped to.
      clip: optional `box_gradient_clip()` of the training pass.

    Returns:
      dict named by `stage_names.prefixed`: for mask stages s in (2, 4)
      `stage{s}_boxes`, `stage{s}_mask_logits` `[B, K, m, m]`,
      `stage{s}_mask_targets`, `stage{s}_mask_weights` `[B, K]`; for
      classifier stages s in (3, 5) `stage{s}_cls_mask_logits` /
      `stage{s}_cls_box_logits` `[B, K, N+1]`, `stage{s}_box_outputs`
      `[B, K, 4(N+1)]`, `stage{s}_cls_mask_targets` /
      `stage{s}_cls_box_targets` `[B, K]`, `stage{s}_box_targets`
      `[B, K, 4]`, `stage{s}_sample_weights` `[B, K]`, `stage{s}_box_iou`,
      `stage{s}_mask_iou`.  Stages 4-5 have K' rows (`_next_stage_inputs`).
    """
    outputs, _ = self._train(features, boxes, sample_valid, gt, image_shape,
                             clip=clip)
    return outputs

  def _train(self, features, boxes, sample_valid, gt, image_shape,
             fixed=None, clip=None):
    """`train`, with the selections and targets optionally held fixed.

    Args:
      fixed: optional list, one dict per stage pair with `targets` and
        `top_class` (as returned here) to use instead of assigning them: the
        selections and targets are then constants, as Eq. 6-9 treat them (a
        gradient check holds them fixed this way).
      (the others as `train`.)

    Returns:
      outputs: the dict of `train`.
      used: the list of {`targets`, `top_class`} dicts of each stage pair.
    """
    outputs, used = {}, []
    pairs = stage_names.stage_pairs(self._config_dict['num_train_stages'])
    # Stages 3 and 5 share the classifier's fc kernels: with the head's
    # `shared_fc_gradient` they get one kernel gradient (carriers).
    share = (len(pairs) > 1 and
             self.classifier_head.get_config().get('shared_fc_gradient'))
    carriers = None
    for i, (mask_stage, cls_stage) in enumerate(pairs):
      held = fixed[i] if fixed else {}
      rows = None
      if share and i == 0:
        rows = self._next_stage_num_rows(boxes, gt)
      mask_out, cls_out = self._run_stage(
          features, boxes, sample_valid, gt, targets=held.get('targets'),
          training=True, fc_carrier_rows=rows,
          fc_carriers=carriers if share and i > 0 else None)
      carriers = cls_out.pop('fc_carriers', None)
      mask_out.pop('mask_probs')
      outputs.update(stage_names.prefixed(mask_out, mask_stage))
      outputs.update(stage_names.prefixed(cls_out, cls_stage))
      targets = {k: v for k, v in cls_out.items() if k in CLASSIFIER_TARGETS}
      targets.update({k: mask_out[k] for k in MASK_TARGETS})
      next_boxes, next_valid, top_class = self._next_stage_inputs(
          boxes, sample_valid, cls_out, gt, image_shape,
          top_class=held.get('top_class'), clip=clip)
      used.append({'targets': targets, 'top_class': top_class})
      boxes, sample_valid = next_boxes, next_valid
    return outputs, used

  def infer(self, features, boxes, valid, image_shape):
    """Stages 2-5 (or 2-3) at inference: the candidates of §6.

    Args:
      features: `[B, h, w, C]` the map the RoIs are warped from.
      boxes: `[B, P, 4]` the RPN proposals.
      valid: bool `[B, P]`, False for padding proposals.
      image_shape: `[B, 2]` (height, width) boxes are clipped to.

    Returns:
      outputs: `stage{s}_boxes` `[B, P, 4]`, `stage{s}_scores` `[B, P, N+1]`
        (0 for padding), `stage{s}_masks` `[B, P, m, m]` for each classifier
        stage s (3, and 5 for 5 stages).
      boxes: `[B, K, 4]` candidate boxes (K = P per classifier stage).
      masks: `[B, K, m, m]` their mask probabilities.
      scores: `[B, K, N]` their foreground class scores (0 for padding).
    """
    valid = tf.cast(valid, tf.float32)[..., None]
    outputs = {}
    cand_boxes, cand_masks, cand_scores = [], [], []
    for _, stage in stage_names.stage_pairs(
        self._config_dict['num_inference_stages']):
      mask_out, cls_out = self._run_stage(features, boxes, training=False)
      scores = tf.nn.softmax(  # float32 under mixed-precision policies
          tf.cast(cls_out['cls_mask_logits'], tf.float32), axis=-1) * valid
      outputs.update(stage_names.prefixed(
          {'boxes': boxes, 'scores': scores, 'masks': mask_out['mask_probs']},
          stage))
      cand_boxes.append(boxes)
      cand_masks.append(mask_out['mask_probs'])
      cand_scores.append(scores[..., 1:])
      boxes, _ = self.next_stage_boxes(boxes, cls_out['cls_mask_logits'],
                                       cls_out['box_outputs'], image_shape)
    return (outputs, tf.concat(cand_boxes, axis=1),
            tf.concat(cand_masks, axis=1), tf.concat(cand_scores, axis=1))

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config

  @classmethod
  def from_config(cls, config, custom_objects=None):
    return cls(**config)
