# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The Multi-task Network Cascade (Dai, He & Sun, CVPR 2016) as a Keras model.

Stage 1 (RPN) proposes boxes; stage 2 regresses a class-agnostic m x m mask in
each box from RoI-warped features; stage 3 classifies the mask-multiplied and
the plain RoI features and regresses class-wise boxes; stages 4 and 5 run
stages 2 and 3 again (same weights) on the stage-3 boxes regressed with each
box's top non-background class.  In training every box that enters an RoI warp
is a differentiable function of the RPN deltas (and, in stages 4-5, of the
stage-3 deltas), unless `box_gradient` is False.

Model Garden's `MaskRCNNModel` is not subclassed: its forward pass stops the
gradient at the RoIs, runs an FPN / multi-level RoIAlign, and has no masked
classifier, so nothing of its `call` would survive; its building blocks (box
ops, anchors, anchor labeler, box sampler, losses) are reused instead.
"""

import tensorflow as tf
import tf_keras

from mnc_tf.modeling import stage_names
from mnc_tf.ops import box_utils
from mnc_tf.ops import gradients
from mnc_tf.ops import mask_crop_targets
from mnc_tf.ops import targets as targets_lib
from official.vision.ops import box_ops

_MASK_TARGETS = ('mask_targets', 'mask_weights')
_CLASSIFIER_TARGETS = ('cls_mask_targets', 'cls_box_targets', 'box_targets',
                       'sample_weights', 'box_iou', 'mask_iou')
# `test_extra_scales` pads each resized input to a multiple of this (every
# backbone's feature stride divides it).
SCALED_INPUT_MULTIPLE = 32


def gt_rows_in_use(gt_valid):
  """How many leading gt rows the batch uses: its last valid row + 1 (>= 1).

  The parser pads the gt to `max_num_instances` (100 in the paper-scale
  experiments) while an image holds a few instances (VOC ~2.4, COCO ~7).
  Every target and loss ignores invalid rows (they are masked and the losses
  are normalized by their weights), so the rows after the batch's last valid
  one can be dropped; in training, stage 4 appends the gt boxes to its RoIs,
  so stages 4 and 5 would otherwise run the heads on all the padding.

  Args:
    gt_valid: bool `[B, M]`.

  Returns:
    int32 scalar n, 1 <= n <= max(M, 1): rows `[:, n:]` are invalid in every
    image.
  """
  rows = tf.range(1, tf.shape(gt_valid)[1] + 1)
  last = tf.reduce_max(tf.where(gt_valid, rows[None, :], tf.zeros_like(
      rows[None, :])))
  return tf.maximum(last, 1)


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class MncModel(tf_keras.Model):
  """MNC: 3- or 5-stage cascade, training targets and inference outputs."""

  def __init__(self, backbone, rpn_head, proposal_generator,
               rpn_target_assigner, roi_sampler, cascade_target_assigner,
               roi_warp, mask_head, classifier_head, detection_generator,
               class_ids, roi_feature_reducer=None,
               anchor_scales=(128.0, 256.0, 512.0),
               anchor_aspect_ratios=(0.5, 1.0, 2.0), feature_stride=16,
               mix_gt_boxes=True, num_train_stages=5, num_inference_stages=5,
               box_gradient=True, box_gradient_clip=1.0 / 512,
               mask_gradient_from_mask_level_positives_only=True,
               stage4_gt_boxes=True, test_horizontal_flip=False,
               test_extra_scales=(), **kwargs):
    """Initializes the model from its layers and a few flags.

    Args:
      backbone: `tf_keras.Model`, images `[B, H, W, 3]` -> `[B, H/16, W/16, C]`.
      rpn_head: `RpnHead`.
      proposal_generator: `ProposalGenerator`.
      rpn_target_assigner: `RpnTargetAssigner` (training).
      roi_sampler: `RoiSampler` (training).
      cascade_target_assigner: `CascadeTargetAssigner`; its box regression
        weights also decode the stage-3 deltas at inference.
      roi_warp: `RoiWarp` with the stage-2 warp size and fused pool.
      mask_head: `MaskHead` (stages 2 and 4).
      classifier_head: `MaskedClassifierHead` (stages 3 and 5).
      detection_generator: `DetectionGenerator` (inference).
      class_ids: data-set ids of the N foreground classes.
      roi_feature_reducer: optional layer `[B, h, w, C]` -> `[B, h, w, C']`
        applied once to the backbone features; stages 2-5 warp its output
        (the RPN sees the backbone features).  None: stages 2-5 warp the
        backbone features.
      anchor_scales: anchor sides (pixels).
      anchor_aspect_ratios: anchor width / height ratios.
      feature_stride: backbone stride (16; the tiny backbone may run at 8).
      mix_gt_boxes: the gt boxes join the candidates of the RoI sampler.
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
      test_horizontal_flip: at inference, the candidates of each image's
        left-right mirror join its own before the NMS and mask voting
        (twice the inference cost).
      test_extra_scales: at inference, the cascade also runs on the input
        resized by each of these factors (> 0), its candidates mapped back
        joining the image's own before the NMS and mask voting (mirrored
        too with `test_horizontal_flip`).
      **kwargs: base model arguments.
    """
    super().__init__(**kwargs)
    stage_names.check_num_stages('num_train_stages', num_train_stages)
    stage_names.check_num_stages('num_inference_stages', num_inference_stages)
    self._config_dict = {
        'backbone': backbone,
        'rpn_head': rpn_head,
        'proposal_generator': proposal_generator,
        'rpn_target_assigner': rpn_target_assigner,
        'roi_sampler': roi_sampler,
        'cascade_target_assigner': cascade_target_assigner,
        'roi_warp': roi_warp,
        'mask_head': mask_head,
        'classifier_head': classifier_head,
        'detection_generator': detection_generator,
        'roi_feature_reducer': roi_feature_reducer,
        'class_ids': [int(c) for c in class_ids],
        'anchor_scales': [float(s) for s in anchor_scales],
        'anchor_aspect_ratios': [float(r) for r in anchor_aspect_ratios],
        'feature_stride': int(feature_stride),
        'mix_gt_boxes': bool(mix_gt_boxes),
        'num_train_stages': int(num_train_stages),
        'num_inference_stages': int(num_inference_stages),
        'box_gradient': bool(box_gradient),
        'box_gradient_clip': float(box_gradient_clip or 0.0),
        'mask_gradient_from_mask_level_positives_only': bool(
            mask_gradient_from_mask_level_positives_only),
        'stage4_gt_boxes': bool(stage4_gt_boxes),
        'test_horizontal_flip': bool(test_horizontal_flip),
        'test_extra_scales': [float(f) for f in test_extra_scales or ()],
    }
    for factor in self._config_dict['test_extra_scales']:
      if not factor > 0:
        raise ValueError('test_extra_scales must be positive factors of the '
                         f'test input size, got {test_extra_scales}.')
    self.backbone = backbone
    self.rpn_head = rpn_head
    self.proposal_generator = proposal_generator
    self.rpn_target_assigner = rpn_target_assigner
    self.roi_sampler = roi_sampler
    self.cascade_target_assigner = cascade_target_assigner
    self.roi_warp = roi_warp
    self.mask_head = mask_head
    self.classifier_head = classifier_head
    self.detection_generator = detection_generator
    self.roi_feature_reducer = roi_feature_reducer
    self._class_table = box_utils.class_index_table(class_ids)
    self._num_classes = len(class_ids) + 1

  # --------------------------------------------------------------- helpers
  def _anchors(self, images):
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
      raise ValueError('MncModel needs a static image height and width (the '
                       f'data pipeline pads to a fixed size); got {images.shape}.')
    cfg = self._config_dict
    return box_utils.generate_anchors(
        height, width, cfg['feature_stride'], cfg['anchor_scales'],
        cfg['anchor_aspect_ratios'])

  def _maybe_stop(self, boxes):
    if self._config_dict['box_gradient']:
      return boxes
    return tf.stop_gradient(boxes)

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

  def run_stage(self, features, boxes, sample_valid=None, gt=None,
                targets=None, training=None, fc_carrier_rows=None,
                fc_carriers=None):
    """One mask stage (2 / 4) and its classifier stage (3 / 5).

    Args:
      features: `[B, h, w, C]` the map the RoIs are warped from
        (`roi_feature_map`).
      boxes: `[B, K, 4]` boxes (network-input pixels), differentiable.
      sample_valid: training: bool `[B, K]`, False for padding rows.
      gt: training: the ground-truth dict of `CascadeTargetAssigner.call`;
        None (inference) assigns no targets.
      targets: optional precomputed targets (the dict
        `CascadeTargetAssigner` returns) used instead of assigning them, so
        a caller can hold them fixed (e.g. a gradient check).
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
      for name in _MASK_TARGETS:
        mask_outputs[name] = targets[name]
      for name in _CLASSIFIER_TARGETS:
        classifier_outputs[name] = targets[name]
    if carriers:
      classifier_outputs['fc_carriers'] = carriers
    return mask_outputs, classifier_outputs

  def next_stage_boxes(self, boxes, cls_mask_logits, box_outputs,
                       image_shape, top_class=None, clip=None):
    """Stage-3 boxes regressed by each box's top non-background class (§5).

    Args:
      boxes: `[B, K, 4]` boxes of the classifier stage.
      cls_mask_logits: `[B, K, N+1]` its mask-level logits (pick the class).
      box_outputs: `[B, K, 4(N+1)]` its class-wise deltas.
      image_shape: `[B, 2]` boxes are clipped to it.
      top_class: optional int32 `[B, K]` class whose deltas are used (held
        fixed by a gradient check); None: the top non-background class.
      clip: optional `box_gradient_clip()` of the training pass.

    Returns:
      boxes: `[B, K, 4]` the next stage's boxes.
      top_class: int32 `[B, K]`.
    """
    if top_class is None:
      top_class = tf.argmax(cls_mask_logits[..., 1:], axis=-1,
                            output_type=tf.int32) + 1
    box_outputs = self.clip_box_gradient(box_outputs, 'stage3', clip)
    shape = tf.shape(box_outputs)
    deltas = tf.reshape(box_outputs,
                        [shape[0], shape[1], self._num_classes, 4])
    deltas = tf.gather(deltas, top_class, batch_dims=2)
    refined = box_ops.decode_boxes(
        deltas, boxes,
        weights=self.cascade_target_assigner.box_regression_weights)
    return (self._maybe_stop(box_utils.clip_boxes(refined, image_shape)),
            top_class)

  def roi_feature_map(self, features):
    """The map stages 2-5 warp: `[B, h, w, C]` -> `[B, h, w, C']`."""
    if self.roi_feature_reducer is None:
      return features
    return self.roi_feature_reducer(features)

  def _rpn(self, images, image_info, training, clip=None):
    features = self.backbone(images, training=training)
    # float32 under mixed-precision policies: boxes and scores (bfloat16
    # would quantize pixel coordinates to steps of up to 4 px).
    rpn_scores, rpn_boxes = [tf.cast(t, tf.float32)
                             for t in self.rpn_head(features)]
    anchors = self._anchors(images)
    image_shape = tf.cast(image_info[:, 1, :], tf.float32)
    # The RPN loss sees `rpn_boxes`; the proposals see the same deltas with
    # the gradient that comes back through the boxes clipped.
    rois, roi_scores, roi_valid, anchor_index = self.proposal_generator(
        rpn_scores, self.clip_box_gradient(rpn_boxes, 'rpn', clip), anchors,
        image_shape, training=training,
        image_scale=tf.cast(image_info[:, 2, :], tf.float32))
    return {
        'features': features, 'roi_features': self.roi_feature_map(features),
        'rpn_scores': rpn_scores,
        'rpn_boxes': rpn_boxes, 'anchors': anchors,
        'image_shape': image_shape, 'rpn_rois': rois,
        'rpn_roi_scores': roi_scores, 'rpn_roi_valid': roi_valid,
        'rpn_roi_anchor_index': anchor_index,
    }

  def ground_truth(self, gt_boxes, gt_classes, gt_masks, image_size=None):
    """The gt dict of `CascadeTargetAssigner`, padding rows normalized.

    `gt_masks`: uint8 `[B, M, H, W]` full-image masks, or the parser's
    per-instance crops `{'crops': uint8 [B, M, C, C]}` (then `image_size`,
    the network input's (H, W), is needed).  The dict's tensors have
    M' = `gt_rows_in_use` rows (dynamic): the padding after the batch's last
    instance is dropped.
    """
    gt_boxes = tf.cast(gt_boxes, tf.float32)
    gt_classes = tf.cast(gt_classes, tf.int32)
    gt_valid = (gt_classes >= 0) & (tf.reduce_max(gt_boxes, axis=-1) >= 0.0)
    # Padding rows after the batch's last instance are dropped (see
    # `gt_rows_in_use`): the same targets and losses, fewer stage-4/5 RoIs.
    rows = gt_rows_in_use(gt_valid)
    gt_boxes, gt_classes = gt_boxes[:, :rows], gt_classes[:, :rows]
    gt_valid = gt_valid[:, :rows]
    if isinstance(gt_masks, dict):
      gt_masks = mask_crop_targets.InstanceMaskCrops(
          tf.convert_to_tensor(gt_masks['crops'])[:, :rows],
          tf.where(gt_valid[..., None], gt_boxes, -tf.ones_like(gt_boxes)),
          image_size)
      gt_areas = gt_masks.areas()
    else:
      gt_masks = tf.cast(tf.convert_to_tensor(gt_masks)[:, :rows], tf.uint8)
      gt_areas = targets_lib.gt_mask_areas(gt_masks)
    return {
        'boxes': tf.where(gt_valid[..., None], gt_boxes,
                          -tf.ones_like(gt_boxes)),
        'valid': gt_valid,
        'class_indices': box_utils.map_class_ids_to_indices(
            tf.where(gt_valid, gt_classes, -tf.ones_like(gt_classes)),
            self._class_table),
        'masks': gt_masks,
        'areas': gt_areas,
    }

  # ------------------------------------------------------------------ call
  def call(self, images, image_info, gt_boxes=None, gt_classes=None,
           gt_masks=None, training=None, box_gradient_scale=None,
           box_gradient_counts=None):
    """Runs the cascade.

    Args:
      images: float32 `[B, H, W, 3]` normalized images (static H, W).
      image_info: `[B, 4, 2]` Model Garden image info.
      gt_boxes: training: `[B, M, 4]` network-input pixels, padding -1.
      gt_classes: training: int `[B, M]` data-set ids, padding -1.
      gt_masks: training: uint8 `[B, M, H, W]` full-image masks, or the
        parser's per-instance crops `{'crops': uint8 [B, M, C, C]}`
        (`parser.mask_crop_size` C; `mask_crop_targets.crop_boxes` gives
        the box each crop covers).
      training: True runs the training cascade (gt required) and returns
        predictions with their targets for `mnc_losses.compute_losses`; False
        returns detections.
      box_gradient_scale: training: optional float scalar tensor, the factor
        each image's loss is multiplied by on its way to the differentiated
        loss; the box-path clip limit is multiplied by it (see
        `box_gradient_clip`).  None: 1.
      box_gradient_counts: training: optional float32 `[2, 2]` zeros watched
        by the caller's tape (see `box_gradient_clip`).

    Returns:
      dict of tensors (see `_train_outputs` / `_inference_outputs`).
    """
    images = tf.convert_to_tensor(images)
    image_info = tf.convert_to_tensor(image_info)
    if training:
      if gt_boxes is None or gt_classes is None or gt_masks is None:
        raise ValueError('training=True needs gt_boxes, gt_classes and '
                         'gt_masks.')
      clip = self.box_gradient_clip(box_gradient_scale, box_gradient_counts)
      return self._train_outputs(images, image_info, gt_boxes, gt_classes,
                                 gt_masks, clip)
    return self._inference_outputs(images, image_info)

  def _sample_rois(self, rpn, gt):
    """RoIs of stage 2 (training) and the RPN targets with MIX_INDEX.

    Returns:
      boxes: `[B, K, 4]` sampled boxes (differentiable w.r.t. the RPN deltas
        where they are proposals; zero for padding).
      sample_valid: bool `[B, K]`.
      score_targets, box_targets: the RPN targets.
    """
    score_targets, box_targets = self.rpn_target_assigner(
        rpn['anchors'], gt['boxes'], gt['valid'], rpn['image_shape'])
    candidates, candidate_valid = rpn['rpn_rois'], rpn['rpn_roi_valid']
    if self._config_dict['mix_gt_boxes']:
      candidates = tf.concat([candidates, gt['boxes']], axis=1)
      candidate_valid = tf.concat([candidate_valid, gt['valid']], axis=1)
    sample_index, sample_valid = self.roi_sampler(
        tf.stop_gradient(candidates), candidate_valid, gt['boxes'],
        gt['valid'])
    sample_index = tf.stop_gradient(sample_index)
    boxes = box_utils.batched_gather(candidates, sample_index)
    boxes = tf.where(sample_valid[..., None], boxes, tf.zeros_like(boxes))

    num_proposals = rpn['rpn_rois'].shape[1]
    from_proposal = sample_valid & (sample_index < num_proposals)
    anchor_index = tf.gather(
        rpn['rpn_roi_anchor_index'],
        tf.minimum(sample_index, num_proposals - 1), batch_dims=1)
    sample_iou, _ = targets_lib.match_boxes(tf.stop_gradient(boxes),
                                            gt['boxes'], gt['valid'])
    score_targets, box_targets = self.rpn_target_assigner.mix(
        score_targets, box_targets, rpn['anchors'], gt['boxes'], gt['valid'],
        anchor_index, self.roi_sampler.is_foreground(sample_iou),
        from_proposal, rpn['image_shape'])
    return boxes, sample_valid, score_targets, box_targets

  def _train_outputs(self, images, image_info, gt_boxes, gt_classes, gt_masks,
                     clip=None):
    """Training forward pass.

    Returns:
      dict: `rpn_scores` `[B, h, w, A]`, `rpn_boxes` `[B, h, w, 4A]`,
      `rpn_score_targets`, `rpn_box_targets`, `rpn_rois` `[B, P, 4]`; and
      `run_stage`'s outputs named by `stage_names.prefixed` for every stage
      of `stage_names.stage_pairs(num_train_stages)`: for mask stages s in
      (2, 4) `stage{s}_boxes`, `stage{s}_mask_logits` `[B, K, m, m]`,
      `stage{s}_mask_targets`, `stage{s}_mask_weights` `[B, K]`; for
      classifier stages s in (3, 5) `stage{s}_cls_mask_logits` /
      `stage{s}_cls_box_logits` `[B, K, N+1]`, `stage{s}_box_outputs`
      `[B, K, 4(N+1)]`, `stage{s}_cls_mask_targets` /
      `stage{s}_cls_box_targets` `[B, K]`, `stage{s}_box_targets`
      `[B, K, 4]`, `stage{s}_sample_weights` `[B, K]`, `stage{s}_box_iou`,
      `stage{s}_mask_iou`.
    """
    gt = self.ground_truth(gt_boxes, gt_classes, gt_masks, images.shape[1:3])
    rpn = self._rpn(images, image_info, training=True, clip=clip)
    boxes, sample_valid, score_targets, box_targets = self._sample_rois(rpn,
                                                                        gt)
    outputs = {
        'rpn_scores': rpn['rpn_scores'],
        'rpn_boxes': rpn['rpn_boxes'],
        'rpn_score_targets': score_targets,
        'rpn_box_targets': box_targets,
        'rpn_rois': rpn['rpn_rois'],
    }
    cascade, _ = self.train_cascade(rpn['roi_features'], boxes, sample_valid,
                                    gt, rpn['image_shape'], clip=clip)
    outputs.update(cascade)
    return outputs

  def train_cascade(self, features, boxes, sample_valid, gt, image_shape,
                    fixed=None, clip=None):
    """Stages 2-5 (or 2-3) in training, one `run_stage` per stage pair.

    Args:
      features: `[B, h, w, C]` `roi_feature_map` output.
      boxes: `[B, K, 4]` stage-2 boxes (zero for padding).
      sample_valid: bool `[B, K]`.
      gt: the dict of `ground_truth`.
      image_shape: `[B, 2]` (height, width) boxes are clipped to.
      fixed: optional list, one dict per stage pair with `targets` and
        `top_class` (as returned here) to use instead of assigning them: the
        selections and targets are then constants, as Eq. 6-9 treat them (a
        gradient check holds them fixed this way).
      clip: optional `box_gradient_clip()` of the training pass.

    Returns:
      outputs: dict named by `stage_names` (see `_train_outputs`).
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
        rows = self.next_stage_num_rows(boxes, gt)
      mask_out, cls_out = self.run_stage(
          features, boxes, sample_valid, gt, targets=held.get('targets'),
          training=True, fc_carrier_rows=rows,
          fc_carriers=carriers if share and i > 0 else None)
      carriers = cls_out.pop('fc_carriers', None)
      mask_out.pop('mask_probs')
      outputs.update(stage_names.prefixed(mask_out, mask_stage))
      outputs.update(stage_names.prefixed(cls_out, cls_stage))
      targets = {k: v for k, v in cls_out.items() if k in _CLASSIFIER_TARGETS}
      targets.update({k: mask_out[k] for k in _MASK_TARGETS})
      next_boxes, next_valid, top_class = self.next_stage_inputs(
          boxes, sample_valid, cls_out, gt, image_shape,
          top_class=held.get('top_class'), clip=clip)
      used.append({'targets': targets, 'top_class': top_class})
      boxes, sample_valid = next_boxes, next_valid
    return outputs, used

  def next_stage_num_rows(self, boxes, gt):
    """B x K' of `next_stage_inputs` (K' = K, + M with stage4_gt_boxes)."""
    shape = tf.shape(boxes)
    rois = shape[1]
    if self._config_dict['stage4_gt_boxes']:
      rois += tf.shape(gt['boxes'])[1]
    return shape[0] * rois

  def next_stage_inputs(self, boxes, sample_valid, classifier_outputs, gt,
                        image_shape, top_class=None, clip=None):
    """The RoIs of stage 4 in training: stage-3 boxes regressed (§5) + gt.

    Args:
      boxes: `[B, K, 4]` boxes of the classifier stage.
      sample_valid: bool `[B, K]`.
      classifier_outputs: `run_stage`'s classifier dict (`cls_mask_logits`,
        `box_outputs`).
      gt: the dict of `ground_truth`.
      image_shape: `[B, 2]`.
      top_class: optional fixed class per box (see `next_stage_boxes`).
      clip: optional `box_gradient_clip()` of the training pass.

    Returns:
      boxes: `[B, K', 4]` (zero for padding), sample_valid `[B, K']`: the K
      regressed boxes, then (`stage4_gt_boxes`) the M gt boxes, K' = K + M;
      top_class int32 `[B, K]`.
    """
    boxes, top_class = self.next_stage_boxes(
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

  def _inference_candidates(self, images, image_info):
    """Stages 1-5 (or 1-3) at inference: the candidates of §6.

    Returns:
      outputs: the cascade's intermediate outputs (`rpn_rois`,
        `rpn_roi_scores`, `stage3_boxes`, ...; see `_inference_outputs`).
      boxes: `[B, K, 4]` candidate boxes (network-input pixels; K = P per
        classifier stage, 2P for 5 stages).
      masks: `[B, K, m, m]` their mask probabilities.
      scores: `[B, K, N]` their foreground class scores (0 for padding).
    """
    rpn = self._rpn(images, image_info, training=False)
    valid = tf.cast(rpn['rpn_roi_valid'], tf.float32)[..., None]
    boxes = rpn['rpn_rois']
    outputs = {'rpn_rois': boxes, 'rpn_roi_scores': rpn['rpn_roi_scores']}
    cand_boxes, cand_masks, cand_scores = [], [], []
    for _, stage in stage_names.stage_pairs(
        self._config_dict['num_inference_stages']):
      mask_out, cls_out = self.run_stage(rpn['roi_features'], boxes,
                                         training=False)
      scores = tf.nn.softmax(  # float32 under mixed-precision policies
          tf.cast(cls_out['cls_mask_logits'], tf.float32), axis=-1) * valid
      outputs.update(stage_names.prefixed(
          {'boxes': boxes, 'scores': scores, 'masks': mask_out['mask_probs']},
          stage))
      cand_boxes.append(boxes)
      cand_masks.append(mask_out['mask_probs'])
      cand_scores.append(scores[..., 1:])
      boxes, _ = self.next_stage_boxes(boxes, cls_out['cls_mask_logits'],
                                       cls_out['box_outputs'],
                                       rpn['image_shape'])
    return (outputs, tf.concat(cand_boxes, axis=1),
            tf.concat(cand_masks, axis=1), tf.concat(cand_scores, axis=1))

  def _flipped_candidates(self, images, image_info):
    """The candidates of each image's left-right mirror, mapped back.

    Each image's content (its first `image_info[:, 1, 1]` columns; the
    padding stays where it is) is flipped, the cascade runs on it, and its
    boxes and masks are mirrored back into the unflipped image.

    Returns:
      boxes `[B, K, 4]`, masks `[B, K, m, m]`, scores `[B, K, N]` as
      `_inference_candidates`.
    """
    widths = tf.minimum(
        tf.cast(tf.round(image_info[:, 1, 1]), tf.int32), tf.shape(images)[2])
    flipped = tf.reverse_sequence(images, widths, seq_axis=2, batch_axis=0)
    _, boxes, masks, scores = self._inference_candidates(flipped, image_info)
    boxes = box_utils.flip_boxes_left_right(boxes, widths)
    return boxes, tf.reverse(masks, axis=[-1]), scores

  def _rescaled_inputs(self, images, image_info, factor):
    """The network input resized by `factor`, as one more test pass sees it.

    The whole padded canvas is resized (its content stays in the top-left
    corner) to `round(H * factor) x round(W * factor)` and zero-padded at the
    bottom and right to a multiple of `SCALED_INPUT_MULTIPLE` (every
    backbone's stride divides it).

    Returns:
      images `[B, H', W', 3]`, image_info `[B, 4, 2]` with the scaled
      content size in row 1, and `[4]` factors (y, x, y, x) that divide the
      pass's boxes back into the unscaled input's pixels.
    """
    height, width = images.shape[1], images.shape[2]
    new_height = max(1, int(round(height * factor)))
    new_width = max(1, int(round(width * factor)))
    multiple = SCALED_INPUT_MULTIPLE
    resized = tf.image.resize(images, [new_height, new_width])
    resized = tf.image.pad_to_bounding_box(
        resized, 0, 0, -(-new_height // multiple) * multiple,
        -(-new_width // multiple) * multiple)
    factors = tf.constant([new_height / height, new_width / width],
                          tf.float32)
    image_info = tf.concat([image_info[:, :1], image_info[:, 1:3] * factors,
                            image_info[:, 3:]], axis=1)
    return (tf.cast(resized, images.dtype), image_info,
            tf.tile(factors, [2]))

  def _test_pass_candidates(self, images, image_info):
    """One test scale's candidates: the image's own, then its mirror's.

    Returns:
      outputs of `_inference_candidates`, and a list of (boxes, masks,
      scores) tuples, one per pass.
    """
    outputs, boxes, masks, scores = self._inference_candidates(images,
                                                               image_info)
    passes = [(boxes, masks, scores)]
    if self._config_dict['test_horizontal_flip']:
      passes.append(self._flipped_candidates(images, image_info))
    return outputs, passes

  def _inference_outputs(self, images, image_info):
    """Inference forward pass.

    With `test_horizontal_flip`, the candidates of each image's mirror
    (mapped back) join the image's own before the NMS and mask voting, which
    merge the passes' masks; with `test_extra_scales`, so do those of the
    image resized by each factor (and of its mirror).  The intermediate
    outputs are the unflipped, unscaled pass's.

    Returns:
      dict: `num_detections` int32 `[B]`, `detection_boxes` `[B, D, 4]`
      (network-input pixels; `mask_paste.original_image_detections` maps to
      the original image), `detection_classes` int32 `[B, D]` data-set ids,
      `detection_scores` `[B, D]`, `detection_masks` `[B, D, V, V]` soft voted
      masks over `detection_mask_boxes` `[B, D, 4]`; and the cascade's
      intermediate outputs `rpn_rois`, `rpn_roi_scores`, `stage3_boxes`,
      `stage3_scores` `[B, P, N+1]`, `stage3_masks` `[B, P, m, m]` (and
      `stage5_*` for 5-stage inference).
    """
    image_info = tf.cast(image_info, tf.float32)
    outputs, passes = self._test_pass_candidates(images, image_info)
    for factor in self._config_dict['test_extra_scales']:
      scaled_images, scaled_info, box_factors = self._rescaled_inputs(
          images, image_info, factor)
      _, scaled = self._test_pass_candidates(scaled_images, scaled_info)
      passes += [(boxes / box_factors, masks, scores)
                 for boxes, masks, scores in scaled]
    boxes, masks, scores = [tf.concat(parts, axis=1)
                            for parts in zip(*passes)]
    detections = self.detection_generator(boxes, masks, scores)
    outputs.update({
        'num_detections': detections['num_detections'],
        'detection_boxes': detections['detection_boxes'],
        'detection_classes': box_utils.map_indices_to_class_ids(
            detections['detection_class_indices'],
            self._config_dict['class_ids']),
        'detection_scores': detections['detection_scores'],
        'detection_masks': detections['detection_masks'],
        'detection_mask_boxes': detections['detection_mask_boxes'],
    })
    return outputs

  @property
  def checkpoint_items(self):
    """Sub-modules Model Garden tasks may restore separately."""
    return {'backbone': self.backbone}

  def get_config(self):
    return dict(self._config_dict)

  @classmethod
  def from_config(cls, config, custom_objects=None):
    return cls(**config)
