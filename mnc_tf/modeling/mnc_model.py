# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The Multi-task Network Cascade (Dai, He & Sun, CVPR 2016) as a Keras model.

`MncModel` runs the backbone and stage 1 (RPN and proposals), samples the
training RoIs, prepares the ground truth, and hands the boxes to its parts:
`heads.cascade_head.CascadeHead` (stages 2-5) and, at inference,
`test_time_augmentation.TestTimeAugmentation` (the flip / extra-scale
passes), before one NMS and mask voting (`DetectionGenerator`).

Model Garden's `MaskRCNNModel` is not subclassed: its forward pass stops the
gradient at the RoIs, runs an FPN / multi-level RoIAlign, and has no masked
classifier, so nothing of its `call` would survive; its building blocks (box
ops, anchors, anchor labeler, box sampler, losses) are reused instead.
"""

import tensorflow as tf
import tf_keras

from mnc_tf.modeling import test_time_augmentation as tta_lib
from mnc_tf.ops import box_utils
from mnc_tf.ops import mask_crop_targets
from mnc_tf.ops import targets as targets_lib

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
               rpn_target_assigner, roi_sampler, cascade_head,
               detection_generator, class_ids, roi_feature_reducer=None,
               test_time_augmentation=None,
               anchor_scales=(128.0, 256.0, 512.0),
               anchor_aspect_ratios=(0.5, 1.0, 2.0), feature_stride=16,
               mix_gt_boxes=True, **kwargs):
    """Initializes the model from its layers and a few flags.

    Args:
      backbone: `tf_keras.Model`, images `[B, H, W, 3]` -> `[B, H/16, W/16, C]`.
      rpn_head: `RpnHead`.
      proposal_generator: `ProposalGenerator`.
      rpn_target_assigner: `RpnTargetAssigner` (training).
      roi_sampler: `RoiSampler` (training).
      cascade_head: `CascadeHead`, stages 2-5.
      detection_generator: `DetectionGenerator` (inference).
      class_ids: data-set ids of the N foreground classes.
      roi_feature_reducer: optional layer `[B, h, w, C]` -> `[B, h, w, C']`
        applied once to the backbone features; stages 2-5 warp its output
        (the RPN sees the backbone features).  None: stages 2-5 warp the
        backbone features.
      test_time_augmentation: optional `TestTimeAugmentation`; None: one
        inference pass.
      anchor_scales: anchor sides (pixels).
      anchor_aspect_ratios: anchor width / height ratios.
      feature_stride: backbone stride (16; the tiny backbone may run at 8).
      mix_gt_boxes: the gt boxes join the candidates of the RoI sampler.
      **kwargs: base model arguments.
    """
    super().__init__(**kwargs)
    self._config_dict = {
        'backbone': backbone,
        'rpn_head': rpn_head,
        'proposal_generator': proposal_generator,
        'rpn_target_assigner': rpn_target_assigner,
        'roi_sampler': roi_sampler,
        'cascade_head': cascade_head,
        'detection_generator': detection_generator,
        'roi_feature_reducer': roi_feature_reducer,
        'test_time_augmentation': test_time_augmentation,
        'class_ids': [int(c) for c in class_ids],
        'anchor_scales': [float(s) for s in anchor_scales],
        'anchor_aspect_ratios': [float(r) for r in anchor_aspect_ratios],
        'feature_stride': int(feature_stride),
        'mix_gt_boxes': bool(mix_gt_boxes),
    }
    self.backbone = backbone
    self.rpn_head = rpn_head
    self.proposal_generator = proposal_generator
    self.rpn_target_assigner = rpn_target_assigner
    self.roi_sampler = roi_sampler
    # The cascade head's layers are also the model's attributes, tracked
    # before the head, so their checkpoint paths stay `model/mask_head/...`.
    self.cascade_target_assigner = cascade_head.cascade_target_assigner
    self.roi_warp = cascade_head.roi_warp
    self.mask_head = cascade_head.mask_head
    self.classifier_head = cascade_head.classifier_head
    self.detection_generator = detection_generator
    self.roi_feature_reducer = roi_feature_reducer
    self.cascade_head = cascade_head
    self.test_time_augmentation = (test_time_augmentation or
                                   tta_lib.TestTimeAugmentation())
    self._class_table = box_utils.class_index_table(class_ids)

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

  def roi_feature_map(self, features):
    """The map stages 2-5 warp: `[B, h, w, C]` -> `[B, h, w, C']`."""
    if self.roi_feature_reducer is None:
      return features
    return self.roi_feature_reducer(features)

  def _anchor_level_sizes(self, images):  # pylint: disable=unused-argument
    """Anchors per pyramid level in the flat anchor order; None: one map."""
    return None

  def features(self, images, training=None):
    """The backbone's features (what the RPN head reads)."""
    return self.backbone(images, training=training)

  def rpn_outputs(self, features):
    """Objectness `[B, h, w, A]` and deltas `[B, h, w, 4A]`, float32."""
    # float32 under mixed-precision policies: boxes and scores (bfloat16
    # would quantize pixel coordinates to steps of up to 4 px).
    return [tf.cast(t, tf.float32) for t in self.rpn_head(features)]

  def _rpn(self, images, image_info, training, clip=None):
    features = self.features(images, training=training)
    rpn_scores, rpn_boxes = self.rpn_outputs(features)
    anchors = self._anchors(images)
    image_shape = tf.cast(image_info[:, 1, :], tf.float32)
    # The RPN loss sees `rpn_boxes`; the proposals see the same deltas with
    # the gradient that comes back through the boxes clipped.
    rois, roi_scores, roi_valid, anchor_index = self.proposal_generator(
        rpn_scores,
        self.cascade_head.clip_box_gradient(rpn_boxes, 'rpn', clip),
        anchors, image_shape, training=training,
        image_scale=tf.cast(image_info[:, 2, :], tf.float32),
        level_sizes=self._anchor_level_sizes(images))
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
        `CascadeHead.box_gradient_clip`).  None: 1.
      box_gradient_counts: training: optional float32 `[2, 2]` zeros watched
        by the caller's tape (see `CascadeHead.box_gradient_clip`).

    Returns:
      dict of tensors (see `_train_outputs` / `_inference_outputs`).
    """
    images = tf.convert_to_tensor(images)
    image_info = tf.convert_to_tensor(image_info)
    if training:
      if gt_boxes is None or gt_classes is None or gt_masks is None:
        raise ValueError('training=True needs gt_boxes, gt_classes and '
                         'gt_masks.')
      clip = self.cascade_head.box_gradient_clip(box_gradient_scale,
                                                box_gradient_counts)
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
      the `stage{s}_*` outputs and targets of `CascadeHead.train`.
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
    outputs.update(self.cascade_head.train(
        rpn['roi_features'], boxes, sample_valid, gt, rpn['image_shape'],
        clip=clip))
    return outputs

  def _inference_candidates(self, images, image_info):
    """Stages 1-5 (or 1-3) at inference, one pass: the candidates of §6.

    Returns:
      outputs: `rpn_rois`, `rpn_roi_scores` and `CascadeHead.infer`'s
        `stage{s}_*` outputs.
      boxes: `[B, K, 4]` candidate boxes (network-input pixels; K = P per
        classifier stage, 2P for 5 stages).
      masks: `[B, K, m, m]` their mask probabilities.
      scores: `[B, K, N]` their foreground class scores (0 for padding).
    """
    rpn = self._rpn(images, image_info, training=False)
    outputs = {'rpn_rois': rpn['rpn_rois'],
               'rpn_roi_scores': rpn['rpn_roi_scores']}
    stages, boxes, masks, scores = self.cascade_head.infer(
        rpn['roi_features'], rpn['rpn_rois'], rpn['rpn_roi_valid'],
        rpn['image_shape'])
    outputs.update(stages)
    return outputs, boxes, masks, scores

  def _inference_outputs(self, images, image_info):
    """Inference forward pass.

    `test_time_augmentation` pools the candidates of its passes (the image
    mirrored, resized) with the image's own before the NMS and mask voting,
    which merge the passes' masks.  The intermediate outputs are the
    unflipped, unscaled pass's.

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
    outputs, boxes, masks, scores = self.test_time_augmentation.candidates(
        self._inference_candidates, images, image_info)
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
