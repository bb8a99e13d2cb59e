# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Builds the MNC model from its config: the only place configs meet layers."""

import tensorflow as tf
import tf_keras

from mnc_tf.configs import model as model_cfg
from mnc_tf.modeling import mnc_fpn_model
from mnc_tf.modeling import mnc_model
from mnc_tf.modeling import test_time_augmentation as tta_lib
from mnc_tf.modeling.backbones import pretrained
from mnc_tf.modeling.backbones import resnet_conv4
from mnc_tf.modeling.backbones import resnet_pyramid
from mnc_tf.modeling.backbones import tiny
from mnc_tf.modeling.backbones import vgg16
from mnc_tf.modeling.heads import cascade_head as cascade_head_lib
from mnc_tf.modeling.heads import classifier_head as classifier_head_lib
from mnc_tf.modeling.heads import mask_head as mask_head_lib
from mnc_tf.modeling.heads import rpn_head as rpn_head_lib
from mnc_tf.modeling.layers import detection_generator as detection_lib
from mnc_tf.modeling.layers import multilevel_roi_warp
from mnc_tf.modeling.layers import proposals
from mnc_tf.modeling.layers import roi_sampler as roi_sampler_lib
from mnc_tf.modeling.layers import roi_warp as roi_warp_lib
from mnc_tf.modeling.layers import target_assigner
from mnc_tf.ops.roi_warp import IMPLEMENTATIONS as ROI_WARP_IMPLEMENTATIONS
from official.vision.modeling.decoders import fpn

# The stride of the VGG-16 and ResNet conv4 maps (the tiny one's is set in
# its config); use `feature_stride(config.backbone)`.
FEATURE_STRIDE = 16


def build_backbone(config: model_cfg.Backbone, l2_regularizer=None):
  """Builds the backbone named by `config.type` (stride 16; tiny: 16, 8 or 4)."""
  if config.type == 'vgg16':
    return vgg16.build_vgg16(frozen_blocks=config.vgg16.frozen_blocks,
                             kernel_regularizer=l2_regularizer)
  if config.type == 'resnet':
    return resnet_conv4.ResNetConv4(
        model_id=config.resnet.model_id,
        freeze_batch_norm=config.resnet.freeze_batch_norm,
        kernel_regularizer=l2_regularizer,
        frozen_stages=config.resnet.frozen_stages)
  if config.type == 'tiny':
    return tiny.build_tiny_backbone(filters=tuple(config.tiny.filters),
                                    kernel_regularizer=l2_regularizer,
                                    output_stride=config.tiny.output_stride,
                                    normalization=config.tiny.normalization,
                                    norm_momentum=config.tiny.norm_momentum)
  raise ValueError(f"backbone.type must be 'vgg16', 'resnet' or 'tiny', got "
                   f'{config.type!r}.')


def build_pyramid_backbone(config: model_cfg.Backbone, l2_regularizer=None):
  """The whole ResNet, its endpoints 2-5 (`decoder.type` 'fpn')."""
  if config.type != 'resnet':
    raise ValueError("decoder.type 'fpn' needs backbone.type 'resnet' (the "
                     f'only backbone with a pyramid), got {config.type!r}.')
  return resnet_pyramid.ResNetPyramid(
      model_id=config.resnet.model_id,
      freeze_batch_norm=config.resnet.freeze_batch_norm,
      kernel_regularizer=l2_regularizer,
      frozen_stages=config.resnet.frozen_stages)


def build_decoder(config: model_cfg.Decoder, input_specs,
                  l2_regularizer=None):
  """Model Garden's FPN on the backbone's endpoints (`input_specs`)."""
  if config.type != 'fpn':
    raise ValueError(f"decoder.type must be 'identity' or 'fpn', got "
                     f'{config.type!r}.')
  return fpn.FPN(input_specs=input_specs,
                 kernel_regularizer=l2_regularizer, name='decoder',
                 **_without(config.fpn, 'freeze_batch_norm'))


def is_pyramid(config: model_cfg.Mnc) -> bool:
  """Whether the model runs on a feature pyramid (`decoder.type` 'fpn')."""
  return config.decoder.type == 'fpn'


def feature_stride(config: model_cfg.Backbone) -> int:
  """The stride of the backbone's feature map (anchors, RoI warp scale)."""
  if config.type == 'tiny':
    return int(config.tiny.output_stride)
  return FEATURE_STRIDE


def _check(config: model_cfg.Mnc):
  warp, cls = config.roi_warp, config.classifier_head
  if warp.output_size % warp.pooled_size:
    raise ValueError(f'roi_warp.output_size ({warp.output_size}) must be a '
                     f'multiple of roi_warp.pooled_size ({warp.pooled_size}).')
  if warp.pooled_size % cls.pooled_size:
    raise ValueError(f'roi_warp.pooled_size ({warp.pooled_size}) must be a '
                     'multiple of classifier_head.pooled_size '
                     f'({cls.pooled_size}).')
  if config.roi_feature_channels < 0:
    raise ValueError('roi_feature_channels must be >= 0 (0: no reduction), '
                     f'got {config.roi_feature_channels}.')
  if config.roi_warp_implementation not in ROI_WARP_IMPLEMENTATIONS:
    raise ValueError('roi_warp_implementation must be one of '
                     f'{ROI_WARP_IMPLEMENTATIONS}, got '
                     f'{config.roi_warp_implementation!r}.')
  if config.decoder.type not in ('identity', 'fpn'):
    raise ValueError("decoder.type must be 'identity' or 'fpn', got "
                     f'{config.decoder.type!r}.')
  if is_pyramid(config):
    _check_pyramid(config)


def _check_pyramid(config: model_cfg.Mnc):
  pyramid, rois = config.decoder.fpn, config.multilevel_roi_warp
  if config.backbone.type != 'resnet':
    raise ValueError("decoder.type 'fpn' needs backbone.type 'resnet' (the "
                     f'only backbone with a pyramid), got '
                     f'{config.backbone.type!r}.')
  if not 2 <= pyramid.min_level <= pyramid.max_level:
    raise ValueError('decoder.fpn levels must satisfy 2 <= min_level <= '
                     f'max_level, got {pyramid.min_level}..'
                     f'{pyramid.max_level}.')
  if not (pyramid.min_level <= rois.min_level <= rois.max_level <=
          min(pyramid.max_level, mnc_fpn_model.BACKBONE_MAX_LEVEL)):
    raise ValueError(
        f'multilevel_roi_warp levels {rois.min_level}..{rois.max_level} must '
        f'lie within decoder.fpn levels {pyramid.min_level}..'
        f'{pyramid.max_level} and at most '
        f'{mnc_fpn_model.BACKBONE_MAX_LEVEL}, min_level <= max_level.')
  if config.roi_feature_channels:
    raise ValueError('roi_feature_channels must be 0 with decoder.type '
                     "'fpn' (the pyramid is already decoder.fpn.num_filters "
                     f'deep), got {config.roi_feature_channels}.')


def build_roi_feature_reducer(channels, l2_regularizer=None):
  """The 1x1 conv + ReLU before the RoI warp, or None when `channels` is 0."""
  if not channels:
    return None
  return tf_keras.layers.Conv2D(
      channels, 1, activation='relu', kernel_initializer='he_normal',
      kernel_regularizer=l2_regularizer, name='roi_feature_reduction')


def build_mnc_model(config: model_cfg.Mnc, l2_regularizer=None,
                    build=True):
  """Builds an `MncModel` (and loads `config.init_checkpoint` if set).

  Args:
    config: `configs.model.Mnc`.
    l2_regularizer: optional kernel regularizer for every conv / fc layer
      (the training task passes `tf_keras.regularizers.l2(decay / 2)`).
    build: run the model once on a small dummy image so its variables exist
      (required to load `init_checkpoint`).

  Returns:
    The `tf_keras.Model`.
  """
  _check(config)
  if is_pyramid(config):
    model = _build_pyramid_model(config, l2_regularizer)
  else:
    model = _build_single_map_model(config, l2_regularizer)
  if build or config.init_checkpoint:
    build_with_dummy_input(model)
  if config.init_checkpoint:
    load_init_checkpoint(model, config)
  return model


def _stage1_and_cascade_layers(config: model_cfg.Mnc, num_anchors,
                               l2_regularizer=None):
  """The layers both models take, as `MncModel` keyword arguments.

  Built after the backbone and in this order (the order the single-map
  model's layers have always been built in).
  """
  return dict(
      rpn_head=rpn_head_lib.RpnHead(
          num_anchors, kernel_regularizer=l2_regularizer, name='rpn_head',
          **config.rpn_head.as_dict()),
      proposal_generator=proposals.ProposalGenerator(
          name='proposal_generator', **config.proposal_generator.as_dict()),
      rpn_target_assigner=target_assigner.RpnTargetAssigner(
          name='rpn_target_assigner', **config.rpn_target_assigner.as_dict()),
      roi_sampler=roi_sampler_lib.RoiSampler(
          name='roi_sampler', **_without(config.roi_sampler, 'mix_gt_boxes')),
      cascade_head=build_cascade_head(config, l2_regularizer),
      detection_generator=detection_lib.DetectionGenerator(
          name='detection_generator',
          **_without(config.detection_generator, 'mask_binarize_threshold')),
      roi_feature_reducer=build_roi_feature_reducer(
          config.roi_feature_channels, l2_regularizer),
      test_time_augmentation=tta_lib.TestTimeAugmentation(
          horizontal_flip=config.cascade.test_horizontal_flip,
          extra_scales=config.cascade.test_extra_scales,
          name='test_time_augmentation'),
      class_ids=config.class_ids,
      mix_gt_boxes=config.roi_sampler.mix_gt_boxes)


def _build_single_map_model(config: model_cfg.Mnc, l2_regularizer=None):
  """`MncModel` on the backbone's one map (the paper)."""
  anchors = config.anchors
  num_anchors = len(anchors.scales) * len(anchors.aspect_ratios)
  backbone = build_backbone(config.backbone, l2_regularizer)
  layers = _stage1_and_cascade_layers(config, num_anchors, l2_regularizer)
  return mnc_model.MncModel(
      backbone=backbone,
      anchor_scales=anchors.scales,
      anchor_aspect_ratios=anchors.aspect_ratios,
      feature_stride=feature_stride(config.backbone),
      name='mnc', **layers)


def _build_pyramid_model(config: model_cfg.Mnc, l2_regularizer=None):
  """`MncFpnModel`: ResNet + FPN, the RPN and the RoI warps over levels."""
  anchors, pyramid = config.multilevel_anchors, config.decoder.fpn
  num_anchors = anchors.num_scales * len(anchors.aspect_ratios)
  backbone = build_pyramid_backbone(config.backbone, l2_regularizer)
  decoder = build_decoder(config.decoder, backbone.output_specs,
                          l2_regularizer)
  layers = _stage1_and_cascade_layers(config, num_anchors, l2_regularizer)
  return mnc_fpn_model.MncFpnModel(
      backbone=backbone, decoder=decoder,
      min_level=pyramid.min_level, max_level=pyramid.max_level,
      anchor_num_scales=anchors.num_scales,
      anchor_aspect_ratios=anchors.aspect_ratios,
      anchor_size=anchors.anchor_size,
      decoder_frozen_batch_norm=pyramid.freeze_batch_norm,
      name='mnc', **layers)


def build_cascade_head(config: model_cfg.Mnc, l2_regularizer=None):
  """Builds the `CascadeHead` of stages 2-5 and its layers."""
  cascade = config.cascade
  num_classes = len(config.class_ids) + 1
  return cascade_head_lib.CascadeHead(
      cascade_target_assigner=target_assigner.CascadeTargetAssigner(
          name='cascade_target_assigner',
          **config.cascade_target_assigner.as_dict()),
      roi_warp=build_roi_warp(config),
      mask_head=mask_head_lib.MaskHead(
          kernel_regularizer=l2_regularizer, name='mask_head',
          **config.mask_head.as_dict()),
      classifier_head=classifier_head_lib.MaskedClassifierHead(
          num_classes=num_classes,
          kernel_regularizer=l2_regularizer, name='classifier_head',
          **config.classifier_head.as_dict()),
      num_classes=num_classes,
      num_train_stages=cascade.num_train_stages,
      num_inference_stages=cascade.num_inference_stages,
      box_gradient=cascade.box_gradient,
      box_gradient_clip=cascade.box_gradient_clip,
      mask_gradient_from_mask_level_positives_only=(
          cascade.mask_gradient_from_mask_level_positives_only),
      stage4_gt_boxes=cascade.stage4_gt_boxes, name='cascade_head')


def build_roi_warp(config: model_cfg.Mnc):
  """The RoI warp of stages 2 and 4: on the one map, or over the pyramid."""
  if is_pyramid(config):
    return multilevel_roi_warp.MultilevelRoiWarp(
        implementation=config.roi_warp_implementation, name='roi_warp',
        **config.roi_warp.as_dict(), **config.multilevel_roi_warp.as_dict())
  return roi_warp_lib.RoiWarp(
      spatial_scale=1.0 / feature_stride(config.backbone),
      implementation=config.roi_warp_implementation, name='roi_warp',
      **config.roi_warp.as_dict())


def _without(config, *names):
  """`config.as_dict()` less the fields that are not the layer's arguments."""
  values = config.as_dict()
  for name in names:
    values.pop(name)
  return values


def build_with_dummy_input(model, size=64):
  """Creates all variables by one inference pass on a zero image."""
  images = tf.zeros([1, size, size, 3], tf.float32)
  image_info = tf.constant([[[size, size], [size, size], [1.0, 1.0],
                             [0.0, 0.0]]], tf.float32)
  model(images, image_info, training=False)


def load_init_checkpoint(model, config: model_cfg.Mnc):
  """Loads ImageNet weights named by `config.init_checkpoint`.

  Raises:
    ValueError: the backbone type has no pretrained format, or the file does
      not fit.
  """
  path = config.init_checkpoint
  if config.backbone.type == 'vgg16':
    pretrained.load_vgg16_h5(path, model.backbone, model.classifier_head)
  elif config.backbone.type == 'resnet':
    pretrained.load_resnet_checkpoint(path, model.backbone)
  else:
    raise ValueError(f'init_checkpoint is not supported for backbone type '
                     f'{config.backbone.type!r}.')


def l2_regularizer_from(losses_config: model_cfg.MncLosses):
  """Model Garden's convention: l2(decay / 2), None when decay is 0."""
  decay = losses_config.l2_weight_decay
  return tf_keras.regularizers.l2(decay / 2.0) if decay else None
