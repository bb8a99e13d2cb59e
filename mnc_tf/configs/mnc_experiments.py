# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The MNC task config and the registered experiments.

Experiments (`train.py --experiment=<name>`):
  mnc_vgg16_voc       the paper's PASCAL VOC (SBD) recipe (§5, §7.1).
  mnc_resnet101_coco  COCO, 80 classes with COCO's ids, ResNet-101 (§7.2).
  mnc_resnet50_coco   the same with ResNet-50.
  mnc_shapes_demo     tiny backbone on the synthetic shapes, for a CPU.
  mnc_custom_data     the recipe for a small COCO-format set on a CPU.
YAML files in `configs/experiments/` override these defaults (data paths,
schedules); `configs/<name>.flags` are ready-made flagfiles for `train.py`.
"""
import dataclasses
from typing import List, Optional

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import optimization

from mnc_tf.configs import data as data_config
from mnc_tf.configs import model as model_config

VOC_CLASS_IDS = list(range(1, 21))
# COCO's 80 category ids (1..90 with gaps).
COCO_CLASS_IDS = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
    23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
    46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64,
    65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88,
    89, 90]
# The synthetic shapes' category ids (circle, square, triangle).
SHAPES_CLASS_IDS = [1, 2, 4]


@dataclasses.dataclass
class MncTask(cfg.TaskConfig):
  """Config of `mnc_tf.tasks.mnc_task.MncTask`.

  Attributes:
    model: the MNC model.
    losses: loss weights and weight decay.
    train_data: training input.
    validation_data: evaluation input.
    init_checkpoint: a checkpoint of a whole MNC model (e.g. to fine-tune);
      the backbone's ImageNet weights are `model.init_checkpoint`.
    annotation_file: COCO-format JSON of the validation split. When empty the
      ground truth comes from the validation records (exact when the decoder
      keeps the original PNG masks, else mapped back from the network input).
    sds_iou_thresholds: mask IoU thresholds of mAP^r.
    sds_use_07_metric: 11-point VOC07 AP for mAP^r (as MNC's evaluator);
      False: VOC 2010+ area.
    per_category_metrics: also report per-class COCO mask AP and SDS AP.
    size_bins: increasing instance sizes (sqrt of the COCO `area`, original
      pixels), e.g. [10, 20, 40]: also report box / mask AP, AP50 and recall
      at IoU 0.5 per size bin (`mask_AP50_BySize/10-20`, ...). Empty: none.
    max_num_eval_detections: COCOeval's largest maxDets.
    allow_image_summary: write pictures of predictions to TensorBoard.
    num_image_summaries: how many validation images to draw.
    image_summary_min_score: instances scoring less are not drawn.
    metrics_filename: JSON file in model_dir receiving every evaluation.
  """
  model: model_config.Mnc = dataclasses.field(
      default_factory=model_config.Mnc)
  losses: model_config.MncLosses = dataclasses.field(
      default_factory=model_config.MncLosses)
  train_data: data_config.DataConfig = dataclasses.field(
      default_factory=lambda: data_config.DataConfig(is_training=True))
  validation_data: data_config.DataConfig = dataclasses.field(
      default_factory=lambda: data_config.DataConfig(
          is_training=False, drop_remainder=False))
  annotation_file: str = ''
  sds_iou_thresholds: List[float] = dataclasses.field(
      default_factory=lambda: [0.5, 0.7])
  sds_use_07_metric: bool = True
  per_category_metrics: bool = False
  size_bins: List[float] = dataclasses.field(default_factory=list)
  max_num_eval_detections: int = 100
  allow_image_summary: bool = True
  num_image_summaries: int = 4
  image_summary_min_score: float = 0.5
  metrics_filename: str = 'eval_metrics.json'


def _sgd_stepwise(boundaries, values, momentum=0.9, warmup_steps=0,
                  warmup_lr=None, global_clipnorm=None):
  """SGD with momentum and a step learning-rate schedule.

  `global_clipnorm` (None: off) scales the whole gradient down to that norm
  when it is larger (Keras' `global_clipnorm`).
  """
  sgd = {'momentum': momentum}
  if global_clipnorm:
    sgd['global_clipnorm'] = global_clipnorm
  config = {
      'optimizer': {'type': 'sgd', 'sgd': sgd},
      'learning_rate': {'type': 'stepwise', 'stepwise': {
          'boundaries': list(boundaries), 'values': list(values)}},
  }
  if warmup_steps:
    config['warmup'] = {'type': 'linear', 'linear': {
        'warmup_steps': warmup_steps,
        'warmup_learning_rate': warmup_lr}}
  return optimization.OptimizationConfig(config)


_RESTRICTIONS = ['task.train_data.is_training != None',
                 'task.validation_data.is_training != None']


@exp_factory.register_config_factory('mnc_vgg16_voc')
def mnc_vgg16_voc() -> cfg.ExperimentConfig:
  """The paper's VOC recipe (§5, §7.1): VGG-16, 5-stage, end to end.

  Shorter side 600 / longer <= 1000, horizontal flips, 8 images a step (one
  per replica on 8 GPUs), SGD momentum 0.9, weight decay 5e-4, learning rate
  0.001 for 32k steps then 0.0001 for 8k. Data paths come from
  `configs/experiments/mnc_vgg16_voc.yaml` or the command line.
  """
  batch = 8
  return cfg.ExperimentConfig(
      task=MncTask(
          model=model_config.Mnc(
              class_ids=VOC_CLASS_IDS,
              backbone=model_config.Backbone(type='vgg16'),
              # One gradient per shared fc6 / fc7 kernel (not a 411 MB
              # partial per stage); weight decay added to the gradients,
              # not differentiated as a loss: the same math, peak RSS of a
              # paper-size step 8.09 -> 5.19 GB (docs/benchmarks.md).
              classifier_head=model_config.MaskedClassifierHead(
                  shared_fc_gradient=True)),
          losses=model_config.MncLosses(l2_weight_decay=5e-4,
                                        l2_weight_decay_in_gradients=True),
          train_data=data_config.DataConfig(
              is_training=True, global_batch_size=batch,
              # Training pads per orientation to the stride-16 rounding of
              # the content (608 x 1008 or 1008 x 608, not a 1024 square).
              parser=data_config.Parser(scale=600, max_size=1000,
                                        aug_rand_hflip=True,
                                        oriented_padding=True,
                                        size_divisor=16)),
          validation_data=data_config.DataConfig(
              is_training=False, global_batch_size=batch,
              drop_remainder=False,
              parser=data_config.Parser(scale=600, max_size=1000,
                                        aug_rand_hflip=False))),
      trainer=cfg.TrainerConfig(
          train_steps=40000, validation_steps=-1, validation_interval=4000,
          steps_per_loop=100, summary_interval=100, checkpoint_interval=1000,
          max_to_keep=5,
          optimizer_config=_sgd_stepwise([32000], [0.001, 0.0001])),
      runtime=cfg.RuntimeConfig(distribution_strategy='mirrored'),
      restrictions=_RESTRICTIONS)


def _coco(model_id: int) -> cfg.ExperimentConfig:
  """COCO with a ResNet trunk (§7.2).

  The paper gives no COCO schedule; this uses the ResNet paper's COCO
  detection one (He et al. 2016: 8 GPUs, lr 0.001 for 240k iterations, then
  0.0001 for 80k), with the VOC recipe's image sizes and weight decay 1e-4 as
  ResNet training does.

  RoI head: the paper does not describe its ResNet head.  The VGG-16 head
  (4096-d fc6 / fc7 on 7 x 7 pooled features, two pathways, stages 3 and 5)
  on ResNet's 1024-channel conv4 costs ~250 GFLOP per classifier stage, and
  the ResNet paper's conv5 head ~1 TFLOP (~0.8 GMAC per RoI x 600 RoIs);
  either makes MNC several times slower than Model Garden's Mask R-CNN.  So
  these experiments warp a 256-channel 1x1 reduction of conv4
  (`roi_feature_channels`, FPN's width) and use 1024-d fc layers (Model
  Garden's / detectron2's box head): the same head widths as the Mask R-CNN
  peer.  `roi_feature_channels: 0` and `classifier_head.fc_dims: 4096`
  restore the VGG-style head.
  """
  batch = 8
  return cfg.ExperimentConfig(
      task=MncTask(
          model=model_config.Mnc(
              class_ids=COCO_CLASS_IDS,
              backbone=model_config.Backbone(
                  type='resnet',
                  # Stem and conv2_x not trained (Detectron's FREEZE_AT=2):
                  # peak RSS of a paper-size step 4.48 -> 3.92 GB
                  # (docs/benchmarks.md).
                  resnet=model_config.ResNetBackbone(model_id=model_id,
                                                     frozen_stages=2)),
              # A light RoI head (see the docstring): 256-channel warped
              # features, 1024-d fc layers in stage 3 / 5.
              roi_feature_channels=256,
              classifier_head=model_config.MaskedClassifierHead(
                  fc_dims=1024, shared_fc_gradient=True)),
          # Same math as the loss term, fewer weight-sized temporaries.
          losses=model_config.MncLosses(l2_weight_decay=1e-4,
                                        l2_weight_decay_in_gradients=True),
          train_data=data_config.DataConfig(
              is_training=True, global_batch_size=batch,
              parser=data_config.Parser(scale=600, max_size=1000,
                                        oriented_padding=True,
                                        size_divisor=16)),
          validation_data=data_config.DataConfig(
              is_training=False, global_batch_size=batch,
              drop_remainder=False,
              parser=data_config.Parser(scale=600, max_size=1000,
                                        aug_rand_hflip=False))),
      trainer=cfg.TrainerConfig(
          train_steps=320000, validation_steps=-1, validation_interval=20000,
          steps_per_loop=100, summary_interval=100, checkpoint_interval=2000,
          max_to_keep=5,
          optimizer_config=_sgd_stepwise([240000], [0.001, 0.0001])),
      runtime=cfg.RuntimeConfig(distribution_strategy='mirrored'),
      restrictions=_RESTRICTIONS)


@exp_factory.register_config_factory('mnc_resnet101_coco')
def mnc_resnet101_coco() -> cfg.ExperimentConfig:
  """COCO, ResNet-101 (the paper's 24.6 / 44.3 on test-dev)."""
  return _coco(101)


@exp_factory.register_config_factory('mnc_resnet50_coco')
def mnc_resnet50_coco() -> cfg.ExperimentConfig:
  """COCO, ResNet-50."""
  return _coco(50)


def shapes_demo_model(**overrides) -> model_config.Mnc:
  """The demo's small model (tiny backbone) for the synthetic shapes.

  End-to-end training through the box coordinates is on (the paper's
  default), with the original release's gradient clip into the box deltas
  (`cascade.box_gradient_clip`) that keeps the proposals from collapsing.
  `python -m tools.ablation` measures it against `box_gradient=false`.
  """
  return model_config.tiny_model_config(class_ids=SHAPES_CLASS_IDS,
                                        **overrides)


@exp_factory.register_config_factory('mnc_shapes_demo')
def mnc_shapes_demo() -> cfg.ExperimentConfig:
  """Tiny backbone, synthetic shapes, a CPU: what `make demo` trains.

  Data paths are those `make demo` writes (`demo_out/...`, relative to
  the repository root); `configs/experiments/mnc_shapes_demo.yaml` repeats
  them for `train.py --flagfile=configs/mnc_shapes_demo.flags`.
  """
  batch = 2
  parser = dict(scale=192, max_size=256, padded_size=[256, 256],
                size_divisor=16, max_num_instances=16)
  return cfg.ExperimentConfig(
      task=MncTask(
          model=shapes_demo_model(),
          losses=model_config.MncLosses(l2_weight_decay=1e-4),
          annotation_file='demo_out/shapes/val.json',
          train_data=data_config.DataConfig(
              input_path='demo_out/data/train-*.tfrecord', is_training=True,
              global_batch_size=batch, shuffle_buffer_size=256,
              parser=data_config.Parser(aug_rand_hflip=True, **parser)),
          validation_data=data_config.DataConfig(
              input_path='demo_out/data/val-*.tfrecord', is_training=False,
              global_batch_size=batch, drop_remainder=False,
              parser=data_config.Parser(aug_rand_hflip=False, **parser))),
      # Gradient norms of this recipe: median ~8, 99th percentile 25-38,
      # rare bursts to ~270 in the tiny backbone's first blocks, after which
      # a run can diverge (NaN); clipping at 30 and Model Garden's blow-up
      # recovery (reload the last checkpoint on a NaN loss) guard against it.
      trainer=cfg.TrainerConfig(
          train_steps=5000, validation_steps=-1, validation_interval=2500,
          steps_per_loop=100, summary_interval=100, checkpoint_interval=500,
          max_to_keep=3, recovery_max_trials=3,
          optimizer_config=_sgd_stepwise([4000], [0.004, 0.0004],
                                         warmup_steps=100, warmup_lr=0.001,
                                         global_clipnorm=30.0)),
      runtime=cfg.RuntimeConfig(distribution_strategy='one_device',
                                num_gpus=0),
      restrictions=_RESTRICTIONS)


# The custom-data recipe's departures from `mnc_shapes_demo` (why each one:
# the comments of `configs/experiments/mnc_custom_data.yaml` and
# docs/custom_data.md).
_CUSTOM_DATA_OVERRIDES = {
    'task': {
        'annotation_file': 'custom_data/val.json',
        'size_bins': [10, 20, 40],
        # The recipe was measured without these release settings.
        'losses': {'bias_weight_decay': False},
        'model': {
            'backbone': {'tiny': {'filters': [16, 32, 64, 128],
                                  'output_stride': 4,
                                  'normalization': 'batch',
                                  'norm_momentum': 0.9}},
            'rpn_head': {'num_filters': 64},
            'mask_head': {'fc_dim': 256},
            'classifier_head': {'fc_dims': 256},
            'anchors': {'scales': [8.0, 16.0, 32.0, 64.0, 128.0]},
            'rpn_target_assigner': {'fg_iou_threshold': 0.5,
                                    'num_samples': 128,
                                    'allowed_border': None},
            'proposal_generator': {'pre_nms_top_k': 6000,
                                   'test_pre_nms_top_k': 6000,
                                   'num_proposals': 300,
                                   'test_num_proposals': 300,
                                   'min_size': 2.0,
                                   'min_size_in_original_pixels': False,
                                   'box_gradient_inside_image_only': False},
            'cascade_target_assigner': {'mask_target_threshold': 0.5},
            'roi_sampler': {'num_samples': 64},
            'cascade': {'test_horizontal_flip': True,
                        'test_extra_scales': [0.75, 1.25]},
            'detection_generator': {'max_num_detections': 50,
                                    'max_detections_per_class': 50},
        },
        'train_data': {
            'input_path': 'custom_data/train-*.tfrecord',
            'parser': {'scale': 320, 'max_size': 448, 'padded_size': [],
                       'oriented_padding': True, 'max_num_instances': 32}},
        'validation_data': {
            'input_path': 'custom_data/val-*.tfrecord',
            'parser': {'scale': 448, 'max_size': 640,
                       'padded_size': [640, 640], 'max_num_instances': 32}},
    },
    'trainer': {
        'train_steps': 1900,
        'validation_interval': 1900,
        'checkpoint_interval': 500,
        'optimizer_config': {'learning_rate': {
            'type': 'cosine',
            'cosine': {'initial_learning_rate': 0.02, 'decay_steps': 1900,
                       'alpha': 0.0}}},
    },
}


@exp_factory.register_config_factory('mnc_custom_data')
def mnc_custom_data() -> cfg.ExperimentConfig:
  """The recipe for a small COCO-format set on a CPU (docs/custom_data.md).

  `mnc_shapes_demo` with a stride-4, batch-normalized tiny backbone, a larger
  input (320 / 448 in training, 448 / 640 at test), anchors 8-128, the
  paper's proposal counts, test-time flip and scales, 1900 steps with a
  cosine learning rate, and per-size metrics. Data paths and class ids come
  from a YAML or `--params_override` (`configs/mnc_custom_data.flags`).
  """
  params = mnc_shapes_demo()
  params.override(_CUSTOM_DATA_OVERRIDES, is_strict=True)
  return params


# The feature-pyramid model of `mnc_resnet18_fpn_custom_data` and
# `mnc_resnet50_fpn_coco`: Model Garden's FPN on levels 2-6 (256 channels),
# the RPN on every level, RoIs warped from levels 2-5 by the FPN rule (224 px
# at level 4), the pyramid's 256-d RPN conv.  The pre-NMS top-k is per level.
def _pyramid_model(resnet: dict, **overrides) -> dict:
  model = {
      'backbone': {'type': 'resnet', 'resnet': resnet},
      'decoder': {'type': 'fpn', 'fpn': {'min_level': 2, 'max_level': 6,
                                         'num_filters': 256}},
      'multilevel_roi_warp': {'min_level': 2, 'max_level': 5,
                              'canonical_level': 4, 'canonical_size': 224.0},
      'rpn_head': {'num_filters': 256},
      'roi_feature_channels': 0,
  }
  model.update(overrides)
  return model


@exp_factory.register_config_factory('mnc_resnet18_fpn_custom_data')
def mnc_resnet18_fpn_custom_data() -> cfg.ExperimentConfig:
  """The custom-data recipe on a ResNet-18 feature pyramid, from scratch.

  `mnc_custom_data`'s data, schedule, heads and test-time augmentation, with
  Model Garden's ResNet-18 (batch norm trained: no pretrained statistics)
  and FPN in place of the tiny stride-4 backbone: anchors of 16-256 px (one
  per level and aspect ratio, anchor_size 4), 1000 boxes per level before the
  proposal NMS, images padded to multiples of 32.  The model that
  `python -m mnc_tf.benchmarks.vs_maskrcnn --mnc_experiment=...` sets beside
  Model Garden's Mask R-CNN ResNet-18 FPN.
  """
  params = mnc_custom_data()
  params.override({'task': {
      'model': _pyramid_model(
          {'model_id': 18, 'freeze_batch_norm': False},
          multilevel_anchors={'num_scales': 1, 'anchor_size': 4.0,
                              'aspect_ratios': [0.5, 1.0, 2.0]},
          proposal_generator={'pre_nms_top_k': 1000,
                              'test_pre_nms_top_k': 1000}),
      'train_data': {'parser': {'size_divisor': 32}},
      'validation_data': {'parser': {'size_divisor': 32}},
  }}, is_strict=True)
  return params


@exp_factory.register_config_factory('mnc_resnet50_fpn_coco')
def mnc_resnet50_fpn_coco() -> cfg.ExperimentConfig:
  """COCO, ResNet-50 with Model Garden's FPN (`mnc_resnet50_coco`'s schedule).

  The stride-16 trunk and its 1x1 reduction give way to the ResNet's levels
  2-5 through the FPN (256 channels, level 6 for the RPN); anchors 32-512 px
  (Model Garden's Mask R-CNN: anchor_size 8, three aspect ratios); 2000 boxes
  per level before the proposal NMS in training, 1000 at test (detectron2's
  FPN counts), then the paper's 300 proposals; images padded to multiples of
  32.  Everything else (heads, losses, schedule) is `mnc_resnet50_coco`.
  """
  params = _coco(50)
  params.override({'task': {
      'model': _pyramid_model(
          {'model_id': 50, 'frozen_stages': 2},
          proposal_generator={'pre_nms_top_k': 2000,
                              'test_pre_nms_top_k': 1000}),
      'train_data': {'parser': {'size_divisor': 32}},
      'validation_data': {'parser': {'size_divisor': 32}},
  }}, is_strict=True)
  return params
