# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Training details of the original MNC release, each a config field.

(The RoI sampler's bands are tested in test_layers.py, MIX_INDEX in
tests/ops/test_targets.py, the RPN box loss in tests/losses.)
"""
import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.configs import model as model_cfg
from mnc_tf.losses import mnc_losses
from mnc_tf.modeling import factory
from mnc_tf.modeling.heads import classifier_head
from mnc_tf.modeling.layers import detection_generator
from tests.modeling.synthetic_example import CLASS_IDS
from tests.modeling.synthetic_example import make_example

K, M = 16, 4      # sampled RoIs of the tiny config, gt rows of the example


def build(**cascade):
  tf.random.set_seed(0)
  return factory.build_mnc_model(
      model_cfg.tiny_model_config(class_ids=CLASS_IDS, cascade=cascade))


def train_call(model, example):
  return model(example['images'], example['image_info'],
               gt_boxes=example['gt_boxes'], gt_classes=example['gt_classes'],
               gt_masks=example['gt_masks'], training=True)


def test_defaults_are_the_original_release():
  config = model_cfg.Mnc()
  assert config.classifier_head.dropout_rate == 0.0
  assert config.cascade.mask_gradient_from_mask_level_positives_only
  assert config.cascade.stage4_gt_boxes
  assert config.roi_sampler.fg_fraction == 0.3
  assert config.roi_sampler.bg_iou_thresholds == [0.5, 0.1, 0.0]
  assert config.roi_sampler.bg_fractions == [0.85, 0.15]
  assert not config.rpn_target_assigner.mix_background_box_targets
  assert config.detection_generator.score_threshold == 0.0
  losses = model_cfg.MncLosses()
  assert losses.rpn_box_loss_type == 'smooth_l1_per_sampled_anchor'
  assert losses.rpn_smooth_l1_sigma == 3.0


@pytest.mark.parametrize('with_gt', [True, False])
def test_stage4_rois_include_the_gt_boxes(with_gt):
  example = make_example()
  out = train_call(build(stage4_gt_boxes=with_gt), example)
  assert out['stage2_boxes'].shape == (1, K, 4)
  # The gt rows up to the last instance (the padding after it is dropped:
  # `mnc_model.gt_rows_in_use`); the example pads its 2 instances to M.
  used = int(np.nonzero(example['gt_classes'][0] >= 0)[0].max()) + 1
  assert used < M
  rows = K + used if with_gt else K
  assert out['stage4_boxes'].shape == (1, rows, 4)
  assert out['stage5_cls_box_targets'].shape == (1, rows)
  if not with_gt:
    return
  gt_rows = out['stage4_boxes'].numpy()[0, K:]
  valid = example['gt_classes'][0][:used] >= 0
  np.testing.assert_array_equal(gt_rows[valid],
                                example['gt_boxes'][0][:used][valid])
  np.testing.assert_array_equal(gt_rows[~valid], 0.0)
  np.testing.assert_array_equal(
      out['stage5_sample_weights'].numpy()[0, K:], valid.astype(np.float32))
  # A gt box is its own best match (IoU 1): box-level label = its class
  # index (ids 3, 7 -> 1, 2), and a stage-4 mask target.
  want = np.where(valid, [CLASS_IDS.index(c) + 1 if c >= 0 else 0
                          for c in example['gt_classes'][0][:used]], 0)
  np.testing.assert_array_equal(
      out['stage5_cls_box_targets'].numpy()[0, K:], want)
  np.testing.assert_array_equal(
      out['stage4_mask_weights'].numpy()[0, K:], valid.astype(np.float32))


@pytest.mark.parametrize('positives_only', [True, False])
def test_stage3_gradient_reaches_stage2_masks_of_mask_level_positives(
    positives_only):
  model = build(mask_gradient_from_mask_level_positives_only=positives_only)
  example = make_example()
  with tf.GradientTape() as tape:
    out = train_call(model, example)
    losses = mnc_losses.compute_losses(out, model_cfg.MncLosses())
    stage3 = losses['stage3_cls_mask'] + losses['stage3_cls_box']
  grad = tape.gradient(stage3, out['stage2_mask_logits']).numpy()[0]
  reached = np.abs(grad).reshape(K, -1).max(axis=1) > 0
  positive = out['stage3_cls_mask_targets'].numpy()[0] > 0
  valid = out['stage3_sample_weights'].numpy()[0] > 0
  assert positive.any() and (valid & ~positive).any()
  if positives_only:
    np.testing.assert_array_equal(reached, positive)
  else:
    np.testing.assert_array_equal(reached, valid)


def test_classifier_head_has_no_dropout_by_default():
  head = classifier_head.MaskedClassifierHead(num_classes=3, pooled_size=2,
                                              fc_dims=8)
  feats = tf.random.normal([1, 5, 4, 4, 6])
  masks = tf.random.uniform([1, 5, 8, 8])
  for a, b in zip(head(feats, masks, training=True),
                  head(feats, masks, training=False)):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_no_score_floor_before_nms_by_default():
  # One real candidate with a class score of 0.005 (below the old 0.01
  # floor) and one padding candidate (score exactly 0).
  boxes = tf.constant([[[10.0, 10.0, 40.0, 40.0], [0.0, 0.0, 0.0, 0.0]]])
  masks = tf.fill([1, 2, 14, 14], 0.9)
  scores = tf.constant([[[0.005, 0.0], [0.0, 0.0]]])
  kwargs = dict(max_num_detections=5, max_detections_per_class=5,
                voting_resolution=14, max_voting_members=4)
  det = detection_generator.DetectionGenerator(**kwargs)(boxes, masks, scores)
  assert int(det['num_detections'][0]) == 1
  np.testing.assert_allclose(det['detection_scores'].numpy()[0, 0], 0.005,
                             rtol=1e-6)
  assert int(det['detection_class_indices'][0, 0]) == 1
  old = detection_generator.DetectionGenerator(score_threshold=0.01,
                                               **kwargs)(boxes, masks, scores)
  assert int(old['num_detections'][0]) == 0


def test_previous_settings_file_restores_the_old_behaviour():
  import os  # pylint: disable=g-import-not-at-top
  from official.core import exp_factory  # pylint: disable=g-import-not-at-top
  from official.modeling import hyperparams  # pylint: disable=g-import-not-at-top
  from mnc_tf.configs import mnc_experiments  # pylint: disable=g-import-not-at-top,unused-import
  path = os.path.join(os.path.dirname(__file__), '..', '..', 'configs',
                      'experiments', 'previous_training_settings.yaml')
  for name in ('mnc_shapes_demo', 'mnc_vgg16_voc', 'mnc_resnet50_coco'):
    params = exp_factory.get_exp_config(name)
    params = hyperparams.override_params_dict(params, path, is_strict=True)
    model, losses = params.task.model, params.task.losses
    assert model.roi_sampler.fg_fraction == 0.25
    assert model.roi_sampler.bg_iou_thresholds == [0.5, 0.0]
    assert model.roi_sampler.bg_fractions == [1.0]
    assert model.rpn_target_assigner.mix_background_box_targets
    assert not model.cascade.mask_gradient_from_mask_level_positives_only
    assert not model.cascade.stage4_gt_boxes
    assert model.detection_generator.score_threshold == 0.01
    assert losses.rpn_box_loss_type == 'huber_per_positive'


@pytest.mark.parametrize('keep', [False, True])
def test_rpn_target_assigner_passes_the_mix_background_switch(keep):
  from mnc_tf.modeling.layers import target_assigner  # pylint: disable=g-import-not-at-top
  from mnc_tf.ops import box_utils  # pylint: disable=g-import-not-at-top
  anchors = box_utils.generate_anchors(32, 32, 16, [16.0], [1.0])
  boxes = np.zeros([1, 2, 2, 4], np.float32)
  boxes[0, 0, 0] = [0.1, 0.2, -0.3, 0.4]
  scores = np.array([[[[1], [-1]], [[0], [-1]]]], np.int32)
  layer = target_assigner.RpnTargetAssigner(mix_background_box_targets=keep)
  _, new_boxes = layer.mix(scores, boxes, anchors,
                           np.array([[[0, 0, 14, 14]]], np.float32),
                           np.array([[True]]), np.array([[0]], np.int32),
                           np.array([[False]]), np.array([[True]]))
  assert np.any(new_boxes.numpy()[0, 0, 0]) == keep
