# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Typed configs of the MNC model, its losses and its post-processing.

Every number of the paper (§3-§6) and of DESIGN.md §5 is a field here with the
paper's value as default.  Layers never read these objects: `modeling/factory.py`
turns them into plain keyword arguments.
"""

import dataclasses
from typing import List, Optional

from official.modeling import hyperparams


@dataclasses.dataclass
class Vgg16Backbone(hyperparams.Config):
  """VGG-16 conv1_1 ... conv5_3 (pool5 dropped: stride 16, 512 channels).

  Attributes:
    frozen_blocks: the first `frozen_blocks` conv blocks are not trained (Fast
      R-CNN / MNC keep conv1 and conv2 fixed).
  """
  frozen_blocks: int = 2


@dataclasses.dataclass
class ResNetBackbone(hyperparams.Config):
  """Model Garden ResNet, truncated after conv4 (stride 16).

  Attributes:
    model_id: 50 or 101 (any Model Garden ResNet depth works).
    freeze_batch_norm: run batch norm in inference mode with frozen statistics
      (one image per replica makes batch statistics meaningless).
  """
  model_id: int = 50
  freeze_batch_norm: bool = True


@dataclasses.dataclass
class TinyBackbone(hyperparams.Config):
  """A small stride-16 conv net for CPU tests and the demo.

  Attributes:
    filters: output channels of the four stride-2 blocks (the last is the
      feature depth).
  """
  filters: List[int] = dataclasses.field(
      default_factory=lambda: [16, 32, 64, 64])


@dataclasses.dataclass
class Backbone(hyperparams.OneOfConfig):
  """One of the backbones; `type` is 'vgg16', 'resnet' or 'tiny'."""
  type: Optional[str] = 'vgg16'
  vgg16: Vgg16Backbone = dataclasses.field(default_factory=Vgg16Backbone)
  resnet: ResNetBackbone = dataclasses.field(default_factory=ResNetBackbone)
  tiny: TinyBackbone = dataclasses.field(default_factory=TinyBackbone)


@dataclasses.dataclass
class Anchors(hyperparams.Config):
  """RPN anchors on the stride-16 map (§3.1): 3 scales x 3 ratios.

  Attributes:
    scales: anchor sides in network-input pixels (sqrt of the area).
    aspect_ratios: width / height.
  """
  scales: List[float] = dataclasses.field(
      default_factory=lambda: [128.0, 256.0, 512.0])
  aspect_ratios: List[float] = dataclasses.field(
      default_factory=lambda: [0.5, 1.0, 2.0])


@dataclasses.dataclass
class Rpn(hyperparams.Config):
  """Stage 1: the RPN head, its training samples and the proposals it makes.

  Attributes:
    num_filters: channels of the 3x3 conv (512 for VGG-16).
    fg_iou_threshold: anchors with IoU >= this are positive.
    bg_iou_threshold: anchors with IoU < this are negative.
    num_samples: anchors sampled per image for the loss.
    fg_fraction: at most this fraction of the samples is positive.
    pre_nms_top_k: proposals kept before NMS in training.
    test_pre_nms_top_k: the same at inference.
    nms_iou_threshold: proposal NMS IoU threshold.
    num_proposals: proposals kept after NMS in training.
    test_num_proposals: the same at inference.
    min_size: proposals with a side below this (network-input pixels) are
      dropped.
    mix_proposal_anchors: the anchors of the proposals sampled for stages
      2-3 join the RPN loss (positive with a box target when their proposal
      is foreground, negative otherwise), as the original release's
      MIX_INDEX; it holds the RPN deltas that the box gradient moves.
  """
  num_filters: int = 512
  fg_iou_threshold: float = 0.7
  bg_iou_threshold: float = 0.3
  num_samples: int = 256
  fg_fraction: float = 0.5
  pre_nms_top_k: int = 12000
  test_pre_nms_top_k: int = 6000
  nms_iou_threshold: float = 0.7
  num_proposals: int = 300
  test_num_proposals: int = 300
  min_size: float = 16.0
  mix_proposal_anchors: bool = True


@dataclasses.dataclass
class RoiSampling(hyperparams.Config):
  """RoIs sampled from the proposals for stages 2 and 3 in training (§6).

  Attributes:
    num_samples: RoIs per image.
    fg_fraction: at most this fraction is foreground.
    fg_iou_threshold: box IoU >= this with a gt box is foreground.
    bg_iou_high_threshold: box IoU < this is background ...
    bg_iou_low_threshold: ... and >= this.
    mix_gt_boxes: add the gt boxes to the candidates (py-faster-rcnn practice;
      they are constants, so they carry no gradient to the RPN).
  """
  num_samples: int = 64
  fg_fraction: float = 0.25
  fg_iou_threshold: float = 0.5
  bg_iou_high_threshold: float = 0.5
  bg_iou_low_threshold: float = 0.0
  mix_gt_boxes: bool = True


@dataclasses.dataclass
class MaskStage(hyperparams.Config):
  """Stage 2 (and 4): class-agnostic mask regression (§3.2).

  Attributes:
    warp_size: RoI-warp output side S (28).
    pooled_size: side after the fused max pool (14); stage 3 reuses these
      features.
    fc_dim: the hidden fc layer (256, ReLU).
    mask_size: m, the predicted mask side (m x m sigmoid outputs).
    fg_iou_threshold: an RoI whose best gt box IoU is > this gets a mask target.
  """
  warp_size: int = 28
  pooled_size: int = 14
  fc_dim: int = 256
  mask_size: int = 28
  fg_iou_threshold: float = 0.5


@dataclasses.dataclass
class ClassifierStage(hyperparams.Config):
  """Stage 3 (and 5): mask-based + box-based pathways, classifiers, boxes (§3.3).

  Attributes:
    pooled_size: the stage-2 features are max pooled to this side (7 for
      VGG-16's fc6) before the fc layers of both pathways.
    fc_dims: width of the two fc layers of each pathway (4096 for VGG-16).
    dropout_rate: dropout after each fc layer in training (0.5 as VGG-16).
    box_fg_iou_threshold: box-level positives: box IoU >= this.
    mask_fg_iou_threshold: mask-level positives also need mask IoU >= this.
    mask_iou_binarize_threshold: the predicted mask is binarized at this value
      to measure its IoU with the gt mask.
    box_regression_weights: (wy, wx, wh, ww) scaling of the box deltas
      ((10, 10, 5, 5) = Fast R-CNN's target stds (0.1, 0.1, 0.2, 0.2)).
  """
  pooled_size: int = 7
  fc_dims: int = 4096
  dropout_rate: float = 0.5
  box_fg_iou_threshold: float = 0.5
  mask_fg_iou_threshold: float = 0.5
  mask_iou_binarize_threshold: float = 0.4
  box_regression_weights: List[float] = dataclasses.field(
      default_factory=lambda: [10.0, 10.0, 5.0, 5.0])


@dataclasses.dataclass
class Cascade(hyperparams.Config):
  """The cascade (§4-§5).

  Attributes:
    num_train_stages: 3 (Table 1c) or 5 (Table 1d).
    num_inference_stages: 3 or 5 (the paper always infers with 5).
    box_gradient: back-propagate through the box coordinates (the paper's
      end-to-end training); False stops the gradient at every box that enters
      an RoI warp (the ablation).
    box_gradient_clip: the gradient that reaches the RPN box deltas through
      the proposals, and the stage-3 box deltas through the stage-4 boxes, is
      clipped element-wise to [-clip, clip] (the original release: 1/512;
      the paper does not say); 0 for none.
  """
  num_train_stages: int = 5
  num_inference_stages: int = 5
  box_gradient: bool = True
  box_gradient_clip: float = 1.0 / 512


@dataclasses.dataclass
class Detection(hyperparams.Config):
  """Inference post-processing (§6).

  Attributes:
    score_threshold: candidates whose class score is not above this are
      ignored for that class.
    nms_iou_threshold: per-class NMS box IoU threshold (0.3).
    max_detections_per_class: kept per class by NMS.
    max_num_detections: detections per image (top 100).
    use_mask_voting: average the masks of each kept instance's cluster.
    voting_iou_threshold: cluster members overlap the kept box by IoU >= this.
    voting_resolution: side of the image-space grid laid over each cluster's
      region on which the masks are averaged.
    max_voting_members: the highest-scoring members of a cluster that vote
      (bounds memory; clusters are rarely larger).
    mask_binarize_threshold: the voted mask is binarized at this value (0.4).
  """
  score_threshold: float = 0.01
  nms_iou_threshold: float = 0.3
  max_detections_per_class: int = 100
  max_num_detections: int = 100
  use_mask_voting: bool = True
  voting_iou_threshold: float = 0.5
  voting_resolution: int = 56
  max_voting_members: int = 100
  mask_binarize_threshold: float = 0.4


@dataclasses.dataclass
class MncModel(hyperparams.Config):
  """The whole MNC model.

  Attributes:
    class_ids: data-set category ids of the N foreground classes in the order
      of the classifier outputs 1..N (output 0 is background).  Ground-truth
      classes are mapped through this list; outputs report these ids.
    backbone: the shared conv trunk.
    init_checkpoint: local ImageNet weights: a Keras `.h5` for VGG-16 (conv
      layers by Keras names; fc1/fc2 also initialize stage 3's fc layers when
      present), a Model Garden checkpoint for ResNet; '' for random init.
    roi_warp_implementation: 'auto', 'custom', 'tf' or 'crop_and_resize'
      (inference only; what exports use), see mnc_tf.ops.roi_warp.
    roi_feature_channels: when > 0, a 1x1 conv + ReLU maps the backbone's
      stride-16 features to this many channels once per image, and stages 2-5
      RoI-warp that thinner map (the RPN keeps the backbone's features).  0
      (the paper, VGG-16) warps the backbone's own 512 / 1024 channels.  The
      ResNet experiments use 256 (FPN's width, as in Light-Head R-CNN's thin
      feature map): it cuts the stage-2 / 3 head cost by 4x.
  """
  class_ids: List[int] = dataclasses.field(
      default_factory=lambda: list(range(1, 21)))
  backbone: Backbone = dataclasses.field(default_factory=Backbone)
  init_checkpoint: str = ''
  anchors: Anchors = dataclasses.field(default_factory=Anchors)
  rpn: Rpn = dataclasses.field(default_factory=Rpn)
  roi_sampling: RoiSampling = dataclasses.field(default_factory=RoiSampling)
  mask_stage: MaskStage = dataclasses.field(default_factory=MaskStage)
  classifier_stage: ClassifierStage = dataclasses.field(
      default_factory=ClassifierStage)
  cascade: Cascade = dataclasses.field(default_factory=Cascade)
  detection: Detection = dataclasses.field(default_factory=Detection)
  roi_warp_implementation: str = 'auto'
  roi_feature_channels: int = 0


@dataclasses.dataclass
class MncLosses(hyperparams.Config):
  """Loss weights, L = sum_s stage_weight[s] * sum_terms term_weight * term.

  Attributes:
    stage_weights: weights of L1 ... L5 (Eq. 5 uses 1).
    rpn_score_weight: stage-1 objectness.
    rpn_box_weight: stage-1 box regression.
    mask_weight: stages 2 and 4 mask regression (the original release used 2).
    cls_mask_weight: stages 3 and 5 mask-level classifier.
    cls_box_weight: stages 3 and 5 box-level classifier.
    box_weight: stages 3 and 5 class-wise box regression.
    rpn_huber_loss_delta: smooth-L1 transition of the RPN box loss (1/9 =
      sigma 3 of py-faster-rcnn).
    box_huber_loss_delta: smooth-L1 transition of the stage-3/5 box loss.
    l2_weight_decay: weight decay (applied by the training task).
  """
  stage_weights: List[float] = dataclasses.field(
      default_factory=lambda: [1.0, 1.0, 1.0, 1.0, 1.0])
  rpn_score_weight: float = 1.0
  rpn_box_weight: float = 1.0
  mask_weight: float = 1.0
  cls_mask_weight: float = 1.0
  cls_box_weight: float = 1.0
  box_weight: float = 1.0
  rpn_huber_loss_delta: float = 1.0 / 9.0
  box_huber_loss_delta: float = 1.0
  l2_weight_decay: float = 5e-4


def tiny_model_config(class_ids=(1, 2), **overrides):
  """A small config for CPU tests and the demo (tiny backbone, small heads).

  Args:
    class_ids: data-set ids of the foreground classes.
    **overrides: nested dict overrides, e.g. `cascade={'box_gradient': False}`.

  Returns:
    An `MncModel`.
  """
  config = MncModel(
      class_ids=list(class_ids),
      backbone=Backbone(type='tiny'),
      anchors=Anchors(scales=[24.0, 48.0], aspect_ratios=[0.5, 1.0, 2.0]),
      rpn=Rpn(num_filters=32, num_samples=64, pre_nms_top_k=200,
              test_pre_nms_top_k=200, num_proposals=32, test_num_proposals=32,
              min_size=4.0),
      roi_sampling=RoiSampling(num_samples=16),
      mask_stage=MaskStage(warp_size=14, pooled_size=7, fc_dim=64,
                           mask_size=14),
      classifier_stage=ClassifierStage(pooled_size=7, fc_dims=64,
                                       dropout_rate=0.0),
      detection=Detection(voting_resolution=28, max_num_detections=10,
                          max_detections_per_class=10, max_voting_members=16))
  config.override(overrides, is_strict=True)
  return config
