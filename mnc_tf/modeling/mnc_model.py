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

from mnc_tf.ops import box_utils
from mnc_tf.ops import gradients
from mnc_tf.ops import targets as targets_lib
from official.vision.ops import box_ops


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class MncModel(tf_keras.Model):
  """MNC: 3- or 5-stage cascade, training targets and inference outputs."""

  def __init__(self, backbone, rpn_head, proposal_generator, roi_sampler,
               roi_warp, mask_head, classifier_head, detection_generator,
               class_ids, roi_feature_reducer=None,
               anchor_scales=(128.0, 256.0, 512.0),
               anchor_aspect_ratios=(0.5, 1.0, 2.0), feature_stride=16,
               rpn_fg_iou_threshold=0.7, rpn_bg_iou_threshold=0.3,
               rpn_num_samples=256, rpn_fg_fraction=0.5,
               mix_proposal_anchors=True, mix_gt_boxes=True,
               mask_fg_iou_threshold=0.5, box_fg_iou_threshold=0.5,
               mask_level_iou_threshold=0.5, mask_iou_binarize_threshold=0.4,
               box_regression_weights=(10.0, 10.0, 5.0, 5.0),
               num_train_stages=5, num_inference_stages=5, box_gradient=True,
               box_gradient_clip=1.0 / 512, **kwargs):
    """Initializes the model from its layers and plain parameters.

    Args:
      backbone: `tf_keras.Model`, images `[B, H, W, 3]` -> `[B, H/16, W/16, C]`.
      rpn_head: `RpnHead`.
      proposal_generator: `ProposalGenerator`.
      roi_sampler: `RoiSampler` (training).
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
      feature_stride: backbone stride (16).
      rpn_fg_iou_threshold: see `configs.model.Rpn`.
      rpn_bg_iou_threshold: see `configs.model.Rpn`.
      rpn_num_samples: see `configs.model.Rpn`.
      rpn_fg_fraction: see `configs.model.Rpn`.
      mix_proposal_anchors: see `configs.model.Rpn`.
      mix_gt_boxes: see `configs.model.RoiSampling`.
      mask_fg_iou_threshold: see `configs.model.MaskStage`.
      box_fg_iou_threshold: see `configs.model.ClassifierStage`.
      mask_level_iou_threshold: see `configs.model.ClassifierStage`.
      mask_iou_binarize_threshold: see `configs.model.ClassifierStage`.
      box_regression_weights: see `configs.model.ClassifierStage`.
      num_train_stages: 3 or 5.
      num_inference_stages: 3 or 5.
      box_gradient: back-propagate through box coordinates.
      box_gradient_clip: element-wise clip of the gradient reaching the RPN
        and stage-3 box deltas through the boxes (0: none).
      **kwargs: base model arguments.
    """
    super().__init__(**kwargs)
    for name, value in (('num_train_stages', num_train_stages),
                        ('num_inference_stages', num_inference_stages)):
      if value not in (3, 5):
        raise ValueError(f'{name} must be 3 or 5, got {value}.')
    self._config_dict = {
        'backbone': backbone,
        'rpn_head': rpn_head,
        'proposal_generator': proposal_generator,
        'roi_sampler': roi_sampler,
        'roi_warp': roi_warp,
        'mask_head': mask_head,
        'classifier_head': classifier_head,
        'detection_generator': detection_generator,
        'roi_feature_reducer': roi_feature_reducer,
        'class_ids': [int(c) for c in class_ids],
        'anchor_scales': [float(s) for s in anchor_scales],
        'anchor_aspect_ratios': [float(r) for r in anchor_aspect_ratios],
        'feature_stride': int(feature_stride),
        'rpn_fg_iou_threshold': float(rpn_fg_iou_threshold),
        'rpn_bg_iou_threshold': float(rpn_bg_iou_threshold),
        'rpn_num_samples': int(rpn_num_samples),
        'rpn_fg_fraction': float(rpn_fg_fraction),
        'mix_proposal_anchors': bool(mix_proposal_anchors),
        'mix_gt_boxes': bool(mix_gt_boxes),
        'mask_fg_iou_threshold': float(mask_fg_iou_threshold),
        'box_fg_iou_threshold': float(box_fg_iou_threshold),
        'mask_level_iou_threshold': float(mask_level_iou_threshold),
        'mask_iou_binarize_threshold': float(mask_iou_binarize_threshold),
        'box_regression_weights': [float(w) for w in box_regression_weights],
        'num_train_stages': int(num_train_stages),
        'num_inference_stages': int(num_inference_stages),
        'box_gradient': bool(box_gradient),
        'box_gradient_clip': float(box_gradient_clip or 0.0),
    }
    self.backbone = backbone
    self.rpn_head = rpn_head
    self.proposal_generator = proposal_generator
    self.roi_sampler = roi_sampler
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

  def _stage_pair(self, features, boxes, training):
    """Stages 2 and 3 (or 4 and 5) on `[B, K, 4]` boxes."""
    roi_features = self.roi_warp(features, self._maybe_stop(boxes))
    mask_logits = self.mask_head(roi_features)
    mask_probs = tf.sigmoid(mask_logits)
    cls_mask, cls_box, box_outputs = self.classifier_head(
        roi_features, mask_probs, training=training)
    return {
        'boxes': boxes,
        'mask_logits': mask_logits,
        'mask_probs': mask_probs,
        'cls_mask_logits': cls_mask,
        'cls_box_logits': cls_box,
        'box_outputs': box_outputs,
    }

  def _refine_boxes(self, boxes, cls_mask_logits, box_outputs, image_shape):
    """Stage-3 boxes regressed by each box's top non-background class (§5)."""
    top_class = tf.argmax(cls_mask_logits[..., 1:], axis=-1,
                          output_type=tf.int32) + 1
    box_outputs = gradients.clip_gradient(
        box_outputs, self._config_dict['box_gradient_clip'])
    shape = tf.shape(box_outputs)
    deltas = tf.reshape(box_outputs,
                        [shape[0], shape[1], self._num_classes, 4])
    deltas = tf.gather(deltas, top_class, batch_dims=2)
    refined = box_ops.decode_boxes(
        deltas, boxes, weights=self._config_dict['box_regression_weights'])
    return self._maybe_stop(box_utils.clip_boxes(refined, image_shape))

  def roi_feature_map(self, features):
    """The map stages 2-5 warp: `[B, h, w, C]` -> `[B, h, w, C']`."""
    if self.roi_feature_reducer is None:
      return features
    return self.roi_feature_reducer(features)

  def _rpn(self, images, image_info, training):
    features = self.backbone(images, training=training)
    rpn_scores, rpn_boxes = self.rpn_head(features)
    anchors = self._anchors(images)
    image_shape = tf.cast(image_info[:, 1, :], tf.float32)
    # The RPN loss sees `rpn_boxes`; the proposals see the same deltas with
    # the gradient that comes back through the boxes clipped.
    proposal_deltas = gradients.clip_gradient(
        rpn_boxes, self._config_dict['box_gradient_clip'])
    rois, roi_scores, roi_valid, anchor_index = self.proposal_generator(
        rpn_scores, proposal_deltas, anchors, image_shape, training=training)
    return {
        'features': features, 'roi_features': self.roi_feature_map(features),
        'rpn_scores': rpn_scores,
        'rpn_boxes': rpn_boxes, 'anchors': anchors,
        'image_shape': image_shape, 'rpn_rois': rois,
        'rpn_roi_scores': roi_scores, 'rpn_roi_valid': roi_valid,
        'rpn_roi_anchor_index': anchor_index,
    }

  # ------------------------------------------------------------------ call
  def call(self, images, image_info, gt_boxes=None, gt_classes=None,
           gt_masks=None, training=None):
    """Runs the cascade.

    Args:
      images: float32 `[B, H, W, 3]` normalized images (static H, W).
      image_info: `[B, 4, 2]` Model Garden image info.
      gt_boxes: training: `[B, M, 4]` network-input pixels, padding -1.
      gt_classes: training: int `[B, M]` data-set ids, padding -1.
      gt_masks: training: uint8 `[B, M, H, W]` full-image masks.
      training: True runs the training cascade (gt required) and returns
        predictions with their targets for `mnc_losses.compute_losses`; False
        returns detections.

    Returns:
      dict of tensors (see `_train_outputs` / `_inference_outputs`).
    """
    images = tf.convert_to_tensor(images)
    image_info = tf.convert_to_tensor(image_info)
    if training:
      if gt_boxes is None or gt_classes is None or gt_masks is None:
        raise ValueError('training=True needs gt_boxes, gt_classes and '
                         'gt_masks.')
      return self._train_outputs(images, image_info, gt_boxes, gt_classes,
                                 gt_masks)
    return self._inference_outputs(images, image_info)

  def _train_outputs(self, images, image_info, gt_boxes, gt_classes, gt_masks):
    """Training forward pass.

    Returns:
      dict: `rpn_scores` `[B, h, w, A]`, `rpn_boxes` `[B, h, w, 4A]`,
      `rpn_score_targets`, `rpn_box_targets`, `rpn_rois` `[B, P, 4]`; for
      mask stages s in (2, 4): `stage{s}_boxes`, `stage{s}_mask_logits`
      `[B, K, m, m]`, `stage{s}_mask_targets`, `stage{s}_mask_weights`
      `[B, K]`; for classifier stages s in (3, 5): `stage{s}_cls_mask_logits`
      / `stage{s}_cls_box_logits` `[B, K, N+1]`, `stage{s}_box_outputs`
      `[B, K, 4(N+1)]`, `stage{s}_cls_mask_targets` / `stage{s}_cls_box_targets`
      `[B, K]`, `stage{s}_box_targets` `[B, K, 4]`, `stage{s}_sample_weights`
      `[B, K]`, `stage{s}_box_iou`, `stage{s}_mask_iou`.
    """
    cfg = self._config_dict
    gt_boxes = tf.cast(gt_boxes, tf.float32)
    gt_classes = tf.cast(gt_classes, tf.int32)
    gt_valid = (gt_classes >= 0) & (tf.reduce_max(gt_boxes, axis=-1) >= 0.0)
    gt_class_indices = box_utils.map_class_ids_to_indices(
        tf.where(gt_valid, gt_classes, -tf.ones_like(gt_classes)),
        self._class_table)
    gt_boxes = tf.where(gt_valid[..., None], gt_boxes,
                        -tf.ones_like(gt_boxes))
    gt_masks = tf.cast(gt_masks, tf.uint8)
    gt_areas = targets_lib.gt_mask_areas(gt_masks)

    rpn = self._rpn(images, image_info, training=True)
    score_targets, box_targets = targets_lib.rpn_targets(
        rpn['anchors'], gt_boxes, gt_valid, cfg['rpn_fg_iou_threshold'],
        cfg['rpn_bg_iou_threshold'], cfg['rpn_num_samples'],
        cfg['rpn_fg_fraction'])
    candidates, candidate_valid = rpn['rpn_rois'], rpn['rpn_roi_valid']
    if cfg['mix_gt_boxes']:
      candidates = tf.concat([candidates, gt_boxes], axis=1)
      candidate_valid = tf.concat([candidate_valid, gt_valid], axis=1)
    sample_index, sample_valid = self.roi_sampler(
        tf.stop_gradient(candidates), candidate_valid, gt_boxes, gt_valid)
    boxes = box_utils.batched_gather(candidates, tf.stop_gradient(sample_index))
    boxes = tf.where(sample_valid[..., None], boxes, tf.zeros_like(boxes))

    if cfg['mix_proposal_anchors']:
      num_proposals = rpn['rpn_rois'].shape[1]
      from_proposal = sample_valid & (sample_index < num_proposals)
      anchor_index = tf.gather(
          rpn['rpn_roi_anchor_index'],
          tf.minimum(sample_index, num_proposals - 1), batch_dims=1)
      sample_iou, _ = targets_lib.match_boxes(tf.stop_gradient(boxes),
                                              gt_boxes, gt_valid)
      fg_threshold = self.roi_sampler.get_config()['fg_iou_threshold']
      score_targets, box_targets = targets_lib.mix_proposal_anchors(
          score_targets, box_targets, rpn['anchors'], gt_boxes, gt_valid,
          anchor_index, sample_iou >= fg_threshold, from_proposal)
    outputs = {
        'rpn_scores': rpn['rpn_scores'],
        'rpn_boxes': rpn['rpn_boxes'],
        'rpn_score_targets': score_targets,
        'rpn_box_targets': box_targets,
        'rpn_rois': rpn['rpn_rois'],
    }

    stages = [(2, 3)] + ([(4, 5)] if cfg['num_train_stages'] == 5 else [])
    for mask_stage, cls_stage in stages:
      pair = self._stage_pair(rpn['roi_features'], boxes, training=True)
      targets = targets_lib.cascade_targets(
          tf.stop_gradient(boxes), sample_valid,
          tf.stop_gradient(pair['mask_probs']), gt_boxes, gt_valid,
          gt_class_indices, gt_masks, gt_areas,
          mask_size=pair['mask_logits'].shape[-1],
          mask_fg_iou_threshold=cfg['mask_fg_iou_threshold'],
          box_fg_iou_threshold=cfg['box_fg_iou_threshold'],
          mask_level_iou_threshold=cfg['mask_level_iou_threshold'],
          mask_binarize_threshold=cfg['mask_iou_binarize_threshold'],
          box_regression_weights=cfg['box_regression_weights'])
      m, c = f'stage{mask_stage}_', f'stage{cls_stage}_'
      outputs.update({
          m + 'boxes': boxes,
          m + 'mask_logits': pair['mask_logits'],
          m + 'mask_targets': targets['mask_targets'],
          m + 'mask_weights': targets['mask_weights'],
          c + 'cls_mask_logits': pair['cls_mask_logits'],
          c + 'cls_box_logits': pair['cls_box_logits'],
          c + 'box_outputs': pair['box_outputs'],
          c + 'cls_mask_targets': targets['cls_mask_targets'],
          c + 'cls_box_targets': targets['cls_box_targets'],
          c + 'box_targets': targets['box_targets'],
          c + 'sample_weights': targets['sample_weights'],
          c + 'box_iou': targets['box_iou'],
          c + 'mask_iou': targets['mask_iou'],
      })
      boxes = self._refine_boxes(boxes, pair['cls_mask_logits'],
                                 pair['box_outputs'], rpn['image_shape'])
      boxes = tf.where(sample_valid[..., None], boxes, tf.zeros_like(boxes))
    return outputs

  def _inference_outputs(self, images, image_info):
    """Inference forward pass.

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
    rpn = self._rpn(images, image_info, training=False)
    valid = tf.cast(rpn['rpn_roi_valid'], tf.float32)[..., None]
    boxes = rpn['rpn_rois']
    outputs = {'rpn_rois': boxes, 'rpn_roi_scores': rpn['rpn_roi_scores']}
    cand_boxes, cand_masks, cand_scores = [], [], []
    stages = (3, 5) if self._config_dict['num_inference_stages'] == 5 else (3,)
    for stage in stages:
      pair = self._stage_pair(rpn['roi_features'], boxes, training=False)
      scores = tf.nn.softmax(pair['cls_mask_logits'], axis=-1) * valid
      outputs.update({f'stage{stage}_boxes': boxes,
                      f'stage{stage}_scores': scores,
                      f'stage{stage}_masks': pair['mask_probs']})
      cand_boxes.append(boxes)
      cand_masks.append(pair['mask_probs'])
      cand_scores.append(scores[..., 1:])
      boxes = self._refine_boxes(boxes, pair['cls_mask_logits'],
                                 pair['box_outputs'], rpn['image_shape'])
    detections = self.detection_generator(
        tf.concat(cand_boxes, axis=1), tf.concat(cand_masks, axis=1),
        tf.concat(cand_scores, axis=1))
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
