# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Typed configs of the MNC model, its losses and its post-processing.

Every number of the paper (§3-§6) and of docs/design.md §5 is a field here
with the paper's value as default.  Layers never read these objects:
`modeling/factory.py` turns them into plain keyword arguments.
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

  With `decoder.type` 'fpn' the whole ResNet runs (endpoints 2-5 feed the
  FPN).

  Attributes:
    model_id: 50 or 101 (any Model Garden ResNet depth works).
    freeze_batch_norm: run batch norm in inference mode with frozen statistics
      (one image per replica makes batch statistics meaningless).
    frozen_stages: the first this many stages are not trained (0: none; 1:
      the stem; 2: the stem and conv2_x, as Detectron's FREEZE_AT=2); their
      activations are then not kept for the backward pass.
  """
  model_id: int = 50
  freeze_batch_norm: bool = True
  frozen_stages: int = 0


@dataclasses.dataclass
class TinyBackbone(hyperparams.Config):
  """A small stride-16 (8 or 4) conv net for CPU tests, the demo, small data.

  Attributes:
    filters: output channels of the four blocks (the last is the feature
      depth, except at stride 4).
    output_stride: 16 (four stride-2 blocks), 8 (the fourth block keeps
      the size: a finer map for objects of 8-16 px) or 4 (as 8, plus an
      FPN-style top-down merge of block 4 into block 2's stride-4 map,
      `filters[2]` channels deep: objects of 4-8 px). The anchors and the
      RoI warp follow it through the factory.
    normalization: 'none' (conv + ReLU, the demo) or 'batch' (conv + batch
      norm + ReLU after every conv).
    norm_momentum: moving-average momentum of those batch norms.
  """
  filters: List[int] = dataclasses.field(
      default_factory=lambda: [16, 32, 64, 64])
  output_stride: int = 16
  normalization: str = 'none'
  norm_momentum: float = 0.9


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
class Fpn(hyperparams.Config):
  """Model Garden's FPN decoder (`official.vision.modeling.decoders.fpn.FPN`).

  Attributes:
    min_level: finest pyramid level (2: stride 4).
    max_level: coarsest level (5: stride 32; 6 adds a stride-2 conv on
      level 5, as Model Garden's FPN builds levels above the backbone's).
    num_filters: channels of every pyramid level (256).
    use_separable_conv: separable 3x3 output convs.
    freeze_batch_norm: the FPN's batch norms (after each output conv)
      normalize with their moving statistics in training too (their scales
      and offsets still train), as the backbone's `freeze_batch_norm`: one
      or two images per replica make batch statistics meaningless.  False:
      batch statistics in training (Model Garden's Mask R-CNN).
  """
  min_level: int = 2
  max_level: int = 6
  num_filters: int = 256
  use_separable_conv: bool = False
  freeze_batch_norm: bool = True


@dataclasses.dataclass
class IdentityDecoder(hyperparams.Config):
  """No decoder: the heads read the backbone's one map (no fields)."""


@dataclasses.dataclass
class Decoder(hyperparams.OneOfConfig):
  """What turns the backbone's endpoints into the features the heads read.

  `type` 'identity' (the paper): the backbone's single stride-16 map (ResNet
  truncated after conv4).  'fpn': the whole Model Garden ResNet (levels 2-5)
  through Model Garden's FPN; the RPN runs on every level and each RoI is
  warped from the level its size selects (`multilevel_roi_warp`).  Only
  `backbone.type` 'resnet' has a pyramid.
  """
  type: Optional[str] = 'identity'
  identity: IdentityDecoder = dataclasses.field(
      default_factory=IdentityDecoder)
  fpn: Fpn = dataclasses.field(default_factory=Fpn)


@dataclasses.dataclass
class MultilevelAnchors(hyperparams.Config):
  """Anchors on every pyramid level (`decoder.type` 'fpn' only).

  Model Garden's `official.vision.ops.anchor.Anchor` on the decoder's
  levels: at level l the anchor side is anchor_size * 2^l * 2^(i/num_scales)
  for i < num_scales (anchor_size 8: 32 px on level 2 ... 512 px on level 6).

  Attributes:
    num_scales: anchor sides per level.
    aspect_ratios: width / height.
    anchor_size: side at scale 0 in units of the level's stride.
  """
  num_scales: int = 1
  aspect_ratios: List[float] = dataclasses.field(
      default_factory=lambda: [0.5, 1.0, 2.0])
  anchor_size: float = 8.0


@dataclasses.dataclass
class MultilevelRoiWarp(hyperparams.Config):
  """Which pyramid level each RoI is warped from (`decoder.type` 'fpn').

  The FPN rule (Lin et al. 2017, Eq. 1): level
  k = floor(canonical_level + log2(sqrt(h * w) / canonical_size)), clamped
  to [min_level, max_level]; the warp's sizes are `roi_warp`'s.

  Attributes:
    min_level: finest level an RoI is warped from (within the decoder's).
    max_level: coarsest one (5: FPN's RoI levels P2-P5; the decoder's level
      6 then serves the RPN only).
    canonical_level: the level of an RoI of side `canonical_size` (4).
    canonical_size: 224 (the ImageNet pre-training size).
  """
  min_level: int = 2
  max_level: int = 5
  canonical_level: int = 4
  canonical_size: float = 224.0


@dataclasses.dataclass
class RpnHead(hyperparams.Config):
  """Stage 1's head (`RpnHead` layer): 3x3 conv + sibling 1x1 convs (§3.1).

  Attributes:
    num_filters: channels of the 3x3 conv (512 for VGG-16).
  """
  num_filters: int = 512


@dataclasses.dataclass
class ProposalGenerator(hyperparams.Config):
  """The proposals stage 1 makes (`ProposalGenerator` layer).

  Attributes:
    pre_nms_top_k: proposals kept before NMS in training (with a feature
      pyramid: per level, then one NMS over all levels).
    test_pre_nms_top_k: the same at inference.
    nms_iou_threshold: proposal NMS IoU threshold.
    num_proposals: proposals kept after NMS in training.
    test_num_proposals: the same at inference.
    min_size: proposals with a side below this are dropped.
    min_size_in_original_pixels: `min_size` is in pixels of the original
      image, i.e. min_size x the image's scale in network-input pixels (the
      original release's `proposal_layer.py`: 16 x im_scale); False: in
      network-input pixels.
    box_gradient_inside_image_only: in training, a proposal whose anchor
      crosses the image border or whose decoded box was clipped to the image
      passes no box gradient back to its deltas (the original release's
      `proposal_layer.py` backward, `weight_out_anchor` x
      `weight_out_proposal`); False: every proposal does (the clip itself
      stops only the clipped coordinates).
  """
  pre_nms_top_k: int = 12000
  test_pre_nms_top_k: int = 6000
  nms_iou_threshold: float = 0.7
  num_proposals: int = 300
  test_num_proposals: int = 300
  min_size: float = 16.0
  min_size_in_original_pixels: bool = True
  box_gradient_inside_image_only: bool = True


@dataclasses.dataclass
class RpnTargetAssigner(hyperparams.Config):
  """Stage-1 training targets (`RpnTargetAssigner` layer).

  Attributes:
    fg_iou_threshold: anchors with IoU >= this are positive.
    bg_iou_threshold: anchors with IoU < this are negative.
    num_samples: anchors sampled per image for the loss.
    fg_fraction: at most this fraction of the samples is positive.
    mix_proposal_anchors: the anchors of the proposals sampled for stages
      2-3 join the RPN loss (positive with a box target when their proposal
      is foreground, negative otherwise), as the original release's
      MIX_INDEX; it holds the RPN deltas that the box gradient moves.
    mix_background_box_targets: an anchor MIX_INDEX makes negative keeps a
      box target it had as a positive, and both RPN box losses regress it
      (False: the original release, whose `anchor_target_layer.py` sets the
      labels, and with them the box inside weights, of those anchors to 0).
    allowed_border: anchors crossing the image border by more than this many
      pixels are ignored (label -1: never sampled, never a gt's best anchor,
      not mixed), as the original release (`anchor_target_layer.py`,
      `allowed_border` 0); None: every anchor is labelled.
  """
  fg_iou_threshold: float = 0.7
  bg_iou_threshold: float = 0.3
  num_samples: int = 256
  fg_fraction: float = 0.5
  mix_proposal_anchors: bool = True
  mix_background_box_targets: bool = False
  allowed_border: Optional[float] = 0.0


@dataclasses.dataclass
class RoiSampler(hyperparams.Config):
  """RoIs sampled from the proposals for stages 2 and 3 (`RoiSampler`, §6).

  The paper says 64 RoIs with 1:3 positives (§6, "we sample ... 64"); the
  rest is the original release's (`lib/mnc_config.py`).

  Attributes:
    num_samples: RoIs per image.
    fg_fraction: at most round(num_samples * this) are foreground (the
      release's `FG_FRACTION` 0.3).
    fg_iou_threshold: box IoU >= this with a gt box is foreground.
    bg_iou_thresholds: descending edges of the background IoU bands (the
      release: [0.5, 0.1) and [0.1, 0.0), `BG_THRESH_HI` / `BG_THRESH_LO`).
    bg_fractions: share of the background slots drawn from each band (the
      release's `BG_FRACTION` 0.85 / 0.15); a short band leaves padding.
    mix_gt_boxes: add the gt boxes to the candidates (py-faster-rcnn practice;
      they are constants, so they carry no gradient to the RPN).
  """
  num_samples: int = 64
  fg_fraction: float = 0.3
  fg_iou_threshold: float = 0.5
  bg_iou_thresholds: List[float] = dataclasses.field(
      default_factory=lambda: [0.5, 0.1, 0.0])
  bg_fractions: List[float] = dataclasses.field(
      default_factory=lambda: [0.85, 0.15])
  mix_gt_boxes: bool = True


@dataclasses.dataclass
class RoiWarp(hyperparams.Config):
  """The RoI warp of stages 2 and 4 (`RoiWarp` layer, Eq. 6-9).

  Attributes:
    output_size: RoI-warp output side S (28).
    pooled_size: side after the fused max pool (14); stage 3 reuses these
      features.
  """
  output_size: int = 28
  pooled_size: int = 14


@dataclasses.dataclass
class MaskHead(hyperparams.Config):
  """Stages 2 and 4: class-agnostic mask regression (`MaskHead`, §3.2).

  Attributes:
    fc_dim: the hidden fc layer (256, ReLU).
    mask_size: m, the predicted mask side (m x m sigmoid outputs).
  """
  fc_dim: int = 256
  mask_size: int = 28


@dataclasses.dataclass
class MaskedClassifierHead(hyperparams.Config):
  """Stages 3 and 5: mask and box pathways, classifiers, boxes (§3.3).

  Attributes:
    pooled_size: the stage-2 features are max pooled to this side (7 for
      VGG-16's fc6) before the fc layers of both pathways.
    fc_dims: width of the two fc layers of each pathway (4096 for VGG-16).
    dropout_rate: dropout after each fc layer in training (0: the original
      release's `models/VGG16/mnc_5stage/train.prototxt` has none after
      fc6 / fc7; VGG-16's ImageNet training used 0.5).
    shared_fc_gradient: in 5-stage training, the fc6 / fc7 kernels that
      stages 3 and 5 share get one gradient matmul over both stages' rows
      (`ops/shared_kernel_gradient.py`) instead of a weight-sized partial
      per stage held through the backward of stages 4-3: same gradients to
      float rounding, less memory (4096-d fc: 2 x 411 + 2 x 67 MB).
  """
  pooled_size: int = 7
  fc_dims: int = 4096
  dropout_rate: float = 0.0
  shared_fc_gradient: bool = False


@dataclasses.dataclass
class CascadeTargetAssigner(hyperparams.Config):
  """Targets of stages 2-5 (`CascadeTargetAssigner` layer, §6).

  Attributes:
    mask_fg_iou_threshold: an RoI whose best gt box IoU is > this gets a
      stage-2 mask target.
    box_fg_iou_threshold: stage-3 box-level positives: box IoU >= this.
    mask_level_iou_threshold: stage-3 mask-level positives are box-level
      positives whose stage-2 mask has mask IoU >= this with the gt mask.
    mask_binarize_threshold: the stage-2 mask is binarized at this value to
      measure that IoU.
    box_regression_weights: (wy, wx, wh, ww) scaling of the stage-3 box
      deltas ((10, 10, 5, 5) = Fast R-CNN's target stds (0.1, 0.1, 0.2, 0.2));
      they also decode the deltas into the stage-4 boxes.
    mask_target_threshold: the stage-2 target is the gt mask resampled into
      the RoI (m x m bilinear samples), foreground where >= this (the
      original release's `mask_transform.py`: the resized box-gt crop
      >= 0.4).
  """
  mask_fg_iou_threshold: float = 0.5
  box_fg_iou_threshold: float = 0.5
  mask_level_iou_threshold: float = 0.5
  mask_binarize_threshold: float = 0.4
  box_regression_weights: List[float] = dataclasses.field(
      default_factory=lambda: [10.0, 10.0, 5.0, 5.0])
  mask_target_threshold: float = 0.4


@dataclasses.dataclass
class Cascade(hyperparams.Config):
  """The cascade (§4-§5): flags of the `MncModel` itself.

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
    mask_gradient_from_mask_level_positives_only: stage 3 (5) passes its
      gradient back into the stage-2 (4) masks only for its mask-level
      positives, as the original release (`lib/pylayer/mask_layer.py`,
      `backward` copies the diff of `pos_sample` rows only); False: every
      RoI (the paper does not say).
    stage4_gt_boxes: the gt boxes join the RoIs of stages 4-5 in training,
      as the original release (`lib/pylayer/stage_bridge_layer.py` stacks
      them under the regressed boxes); the paper does not say.  Only the
      gt rows up to the batch's last instance join (the parser's padding
      to `max_num_instances` does not: `mnc_model.gt_rows_in_use`).
    test_horizontal_flip: at inference (evaluation, export), the cascade
      also runs on each image's left-right mirror and its candidates, mapped
      back, join the image's own before the NMS and mask voting (§6), which
      merge the two passes' masks; twice the inference cost.  Neither the
      paper nor the original release does this (off by default).
    test_extra_scales: at inference, the cascade also runs on the network
      input resized by each of these factors (e.g. [1.25]: 640 x 640 ->
      800 x 800, padded up to a multiple of 32), mirrored too with
      `test_horizontal_flip`; the candidates, mapped back, join the
      image's own before the NMS and mask voting.  Each scale s costs about
      s^2 of one pass.  Empty (the default): one scale.  Neither the paper
      nor the original release does this.
  """
  num_train_stages: int = 5
  num_inference_stages: int = 5
  box_gradient: bool = True
  box_gradient_clip: float = 1.0 / 512
  mask_gradient_from_mask_level_positives_only: bool = True
  stage4_gt_boxes: bool = True
  test_horizontal_flip: bool = False
  test_extra_scales: List[float] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class DetectionGenerator(hyperparams.Config):
  """Inference post-processing (`DetectionGenerator` layer, §6).

  Attributes:
    score_threshold: candidates whose class score is not above this are
      ignored for that class (0: the original release applies no floor
      before NMS and voting; padding candidates score exactly 0 and stay
      out).
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
  score_threshold: float = 0.0
  nms_iou_threshold: float = 0.3
  max_detections_per_class: int = 100
  max_num_detections: int = 100
  use_mask_voting: bool = True
  voting_iou_threshold: float = 0.5
  voting_resolution: int = 56
  max_voting_members: int = 100
  mask_binarize_threshold: float = 0.4


@dataclasses.dataclass
class Mnc(hyperparams.Config):
  """Config of the whole MNC model (builds the Keras `MncModel`).

  Named as Model Garden names its configs (`MaskRCNN` builds
  `MaskRCNNModel`); each sub-config is named after the layer it builds.

  Attributes:
    class_ids: data-set category ids of the N foreground classes in the order
      of the classifier outputs 1..N (output 0 is background).  Ground-truth
      classes are mapped through this list; outputs report these ids.
    backbone: the shared conv trunk.
    decoder: 'identity' (the paper's single map) or 'fpn' (a pyramid).
    init_checkpoint: local ImageNet weights: a Keras `.h5` for VGG-16 (conv
      layers by Keras names; fc1/fc2 also initialize stage 3's fc layers when
      present), a Model Garden checkpoint for ResNet; '' for random init.
    anchors: the RPN's anchors on the single map (decoder 'identity').
    multilevel_anchors: the RPN's anchors on the pyramid (decoder 'fpn').
    rpn_head: stage 1's head.
    proposal_generator: stage 1's proposals.
    rpn_target_assigner: stage 1's training targets.
    roi_sampler: the RoIs of stages 2-3 in training.
    roi_warp: the RoI warp of stages 2 and 4.
    multilevel_roi_warp: the level each RoI is warped from (decoder 'fpn').
    mask_head: stages 2 and 4.
    classifier_head: stages 3 and 5.
    cascade_target_assigner: the targets of stages 2-5.
    cascade: stage counts and the gradient through the boxes.
    detection_generator: inference post-processing.
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
  decoder: Decoder = dataclasses.field(default_factory=Decoder)
  init_checkpoint: str = ''
  anchors: Anchors = dataclasses.field(default_factory=Anchors)
  multilevel_anchors: MultilevelAnchors = dataclasses.field(
      default_factory=MultilevelAnchors)
  rpn_head: RpnHead = dataclasses.field(default_factory=RpnHead)
  proposal_generator: ProposalGenerator = dataclasses.field(
      default_factory=ProposalGenerator)
  rpn_target_assigner: RpnTargetAssigner = dataclasses.field(
      default_factory=RpnTargetAssigner)
  roi_sampler: RoiSampler = dataclasses.field(default_factory=RoiSampler)
  roi_warp: RoiWarp = dataclasses.field(default_factory=RoiWarp)
  multilevel_roi_warp: MultilevelRoiWarp = dataclasses.field(
      default_factory=MultilevelRoiWarp)
  mask_head: MaskHead = dataclasses.field(default_factory=MaskHead)
  classifier_head: MaskedClassifierHead = dataclasses.field(
      default_factory=MaskedClassifierHead)
  cascade_target_assigner: CascadeTargetAssigner = dataclasses.field(
      default_factory=CascadeTargetAssigner)
  cascade: Cascade = dataclasses.field(default_factory=Cascade)
  detection_generator: DetectionGenerator = dataclasses.field(
      default_factory=DetectionGenerator)
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
    rpn_box_loss_type: 'smooth_l1_per_sampled_anchor' (the original
      release: smooth-L1 with `rpn_smooth_l1_sigma`, summed over the positive
      anchors' coordinates, divided by the image's sampled anchors, 256; the
      scale `cascade.box_gradient_clip` = 1/512 was chosen against) or
      'huber_per_positive' (Model Garden's `RpnBoxLoss`: Huber with
      `rpn_huber_loss_delta` / 4 x the positives).
    rpn_smooth_l1_sigma: sigma of the original form (3: transition at 1/9).
    rpn_huber_loss_delta: Huber transition of the Model Garden form (1/9).
    box_huber_loss_delta: smooth-L1 transition of the stage-3/5 box loss.
    l2_weight_decay: weight decay (applied by the training task).
    bias_weight_decay: the biases of the decayed layers are decayed too, as
      Caffe's solver does in the original release (its `train.prototxt` sets
      `decay_mult: 0` only on the frozen conv1-conv2); False: kernels only
      (Model Garden's convention).
    l2_weight_decay_in_gradients: False: the decay is a loss term
      (`model.losses`) differentiated with the rest; True: the same
      `l2_weight_decay * w` is added to each kernel's gradient once that
      gradient exists (`tasks/weight_decay.py`, as Caffe's solver does): same
      loss and gradients to float rounding, without weight-sized L2
      gradients held through the whole backward pass (a paper-size VGG-16
      step's live tensors peak 6.68 -> 4.48 GB, docs/benchmarks.md,
      "Training cost at paper scale").
  """
  stage_weights: List[float] = dataclasses.field(
      default_factory=lambda: [1.0, 1.0, 1.0, 1.0, 1.0])
  rpn_score_weight: float = 1.0
  rpn_box_weight: float = 1.0
  mask_weight: float = 1.0
  cls_mask_weight: float = 1.0
  cls_box_weight: float = 1.0
  box_weight: float = 1.0
  rpn_box_loss_type: str = 'smooth_l1_per_sampled_anchor'
  rpn_smooth_l1_sigma: float = 3.0
  rpn_huber_loss_delta: float = 1.0 / 9.0
  box_huber_loss_delta: float = 1.0
  l2_weight_decay: float = 5e-4
  l2_weight_decay_in_gradients: bool = False
  bias_weight_decay: bool = True


def tiny_model_config(class_ids=(1, 2), **overrides):
  """A small config for CPU tests and the demo (tiny backbone, small heads).

  Args:
    class_ids: data-set ids of the foreground classes.
    **overrides: nested dict overrides, e.g. `cascade={'box_gradient': False}`.

  Returns:
    An `Mnc` config.
  """
  config = Mnc(
      class_ids=list(class_ids),
      backbone=Backbone(type='tiny'),
      anchors=Anchors(scales=[24.0, 48.0], aspect_ratios=[0.5, 1.0, 2.0]),
      rpn_head=RpnHead(num_filters=32),
      proposal_generator=ProposalGenerator(
          pre_nms_top_k=200, test_pre_nms_top_k=200, num_proposals=32,
          test_num_proposals=32, min_size=4.0),
      rpn_target_assigner=RpnTargetAssigner(num_samples=64),
      roi_sampler=RoiSampler(num_samples=16),
      roi_warp=RoiWarp(output_size=14, pooled_size=7),
      mask_head=MaskHead(fc_dim=64, mask_size=14),
      classifier_head=MaskedClassifierHead(pooled_size=7, fc_dims=64,
                                           dropout_rate=0.0),
      detection_generator=DetectionGenerator(
          voting_resolution=28, max_num_detections=10,
          max_detections_per_class=10, max_voting_members=16))
  config.override(overrides, is_strict=True)
  return config


def tiny_pyramid_model_config(class_ids=(1, 2), **overrides):
  """`tiny_model_config` on a feature pyramid (ResNet-18 + a thin FPN).

  Levels 2-5 (image sides must be multiples of 32); the RoI levels'
  canonical size is 80 px (level 2 below 40 px, 3 to 80, 4 to 160, 5
  above), so that the objects of small test images spread over the levels;
  every anchor side (32, 64, 128, 256) is 20 % from a level boundary.

  Args:
    class_ids: data-set ids of the foreground classes.
    **overrides: nested dict overrides, as `tiny_model_config`.

  Returns:
    An `Mnc` config.
  """
  config = tiny_model_config(
      class_ids=class_ids,
      backbone={'type': 'resnet', 'resnet': {'model_id': 18}},
      decoder={'type': 'fpn', 'fpn': {'min_level': 2, 'max_level': 5,
                                      'num_filters': 32}},
      multilevel_anchors={'num_scales': 1, 'anchor_size': 8.0},
      multilevel_roi_warp={'min_level': 2, 'max_level': 5,
                           'canonical_size': 80.0})
  config.override(overrides, is_strict=True)
  return config
