# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The cascade end to end: outputs, box gradients, empty images, inference."""
import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.configs import model as model_cfg
from mnc_tf.losses import mnc_losses
from mnc_tf.modeling import factory
from mnc_tf.modeling import mnc_model
from mnc_tf.modeling import stage_names
from mnc_tf.ops import mask_paste
from tests.modeling.synthetic_example import CLASS_IDS
from tests.modeling.synthetic_example import make_example


def build(**overrides):
  tf.random.set_seed(0)
  return factory.build_mnc_model(
      model_cfg.tiny_model_config(class_ids=CLASS_IDS, **overrides))


# Every anchor (6 x 6 x 6 for 96 x 96) is a proposal and every proposal a
# sample, gt boxes not mixed in: the stage-2 positives are certainly RPN
# proposals, whatever the random initialization.
ALL_ANCHORS = {'proposal_generator': {'pre_nms_top_k': 216,
                                      'num_proposals': 216,
                                      'nms_iou_threshold': 1.0,
                                      'min_size': 0.0},
               'roi_sampler': {'num_samples': 216, 'fg_fraction': 1.0,
                               'mix_gt_boxes': False}}


def train_call(model, example):
  return model(example['images'], example['image_info'],
               gt_boxes=example['gt_boxes'], gt_classes=example['gt_classes'],
               gt_masks=example['gt_masks'], training=True)


@pytest.fixture(scope='module')
def model5():
  return build()


def test_training_outputs_and_targets(model5):
  example = make_example()
  out = train_call(model5, example)
  k, m, n1 = 16, 14, 3
  assert out['rpn_scores'].shape == (1, 6, 6, 6)
  assert out['rpn_box_targets'].shape == (1, 6, 6, 24)
  # Stages 4-5 also see the gt rows (cascade.stage4_gt_boxes): the 2 in use
  # of the example's M = 4 (the trailing padding is dropped).
  for s, rows in ((2, k), (4, k + 2)):
    assert out[f'stage{s}_mask_logits'].shape == (1, rows, m, m)
    assert out[f'stage{s}_mask_targets'].shape == (1, rows, m, m)
  for s, rows in ((3, k), (5, k + 2)):
    assert out[f'stage{s}_cls_mask_logits'].shape == (1, rows, n1)
    assert out[f'stage{s}_box_outputs'].shape == (1, rows, 4 * n1)
  # The gt boxes are mixed into the candidates, so both classes (ids 3, 7
  # -> indices 1, 2) are among the box-level labels of stage 3.
  labels = set(out['stage3_cls_box_targets'].numpy().ravel())
  assert {1, 2} <= labels <= {0, 1, 2}
  # A sample's label is its best gt's class exactly when IoU >= 0.5.
  iou = out['stage3_box_iou'].numpy()
  np.testing.assert_array_equal(out['stage3_cls_box_targets'].numpy() > 0,
                                iou >= 0.5)
  # Mask-level positives are a subset of box-level positives.
  mask_pos = out['stage3_cls_mask_targets'].numpy() > 0
  assert np.all(out['stage3_cls_box_targets'].numpy()[mask_pos] > 0)
  # Stage-2 targets of positives are mostly foreground pixels of the gt.
  weights = out['stage2_mask_weights'].numpy()[0] > 0
  assert weights.any()
  assert out['stage2_mask_targets'].numpy()[0][weights].mean() > 0.5
  # Stage-4 boxes are the stage-3 boxes moved by the regressor.
  assert not np.allclose(out['stage4_boxes'].numpy()[:, :k],
                         out['stage2_boxes'].numpy())
  losses = mnc_losses.compute_losses(out, model_cfg.MncLosses())
  assert all(np.isfinite(float(v)) for v in losses.values())
  assert set(losses) == set(stage_names.loss_names(5)) | {'total_loss'}


def test_batch_of_two_keeps_images_apart(model5):
  full, empty = make_example(), make_example(empty=True)
  batch = {k: np.concatenate([full[k], empty[k]]) for k in full}
  out = train_call(model5, batch)
  labels = out['stage3_cls_box_targets'].numpy()
  assert labels[0].max() > 0 and labels[1].max() == 0
  assert out['stage2_mask_weights'].numpy()[1].sum() == 0
  assert out['rpn_score_targets'].numpy()[1].max() == 0   # no positives
  # The positives of image 0 crop image 0's masks (mostly foreground).
  weights = out['stage2_mask_weights'].numpy()[0] > 0
  assert out['stage2_mask_targets'].numpy()[0][weights].mean() > 0.5
  det = model5(batch['images'], batch['image_info'], training=False)
  assert det['detection_boxes'].shape == (2, 10, 4)


def gradient_of(model, loss_name, variable):
  example = make_example()
  with tf.GradientTape() as tape:
    out = train_call(model, example)
    loss = mnc_losses.compute_losses(out, model_cfg.MncLosses())[loss_name]
  return tape.gradient(loss, variable)


@pytest.mark.parametrize('box_gradient', [True, False])
def test_box_gradient_reaches_rpn_and_stage3_regressors(box_gradient):
  model = build(cascade={'box_gradient': box_gradient}, **ALL_ANCHORS)
  rpn_kernel = model.rpn_head.box_layer.kernel
  grad = gradient_of(model, 'stage2_mask', rpn_kernel)
  stage3_regressor = model.classifier_head._box.kernel
  grad4 = gradient_of(model, 'stage4_mask', stage3_regressor)
  if box_gradient:
    assert grad is not None and np.abs(grad.numpy()).max() > 0
    assert grad4 is not None and np.abs(grad4.numpy()).max() > 0
  else:
    assert grad is None or not np.any(grad.numpy())
    assert grad4 is None or not np.any(grad4.numpy())


@pytest.mark.parametrize('clip', [1e-5, 1.0 / 512])
def test_box_gradient_into_the_deltas_is_clipped(clip):
  model = build(cascade={'box_gradient_clip': clip}, **ALL_ANCHORS)
  example = make_example()
  with tf.GradientTape(persistent=True) as tape:
    out = train_call(model, example)
    losses = mnc_losses.compute_losses(out, model_cfg.MncLosses())
  # stage 2 sees the RPN deltas only through the proposals (clipped) ...
  grad = tape.gradient(losses['stage2_mask'], out['rpn_boxes']).numpy()
  assert np.abs(grad).max() <= clip * (1 + 1e-6) and np.any(grad)
  # ... stage 4 the stage-3 deltas only through the stage-4 boxes.
  grad = tape.gradient(losses['stage4_mask'],
                       out['stage3_box_outputs']).numpy()
  assert np.abs(grad).max() <= clip * (1 + 1e-6) and np.any(grad)
  # The RPN's own box loss is not clipped.
  grad = tape.gradient(losses['stage1_rpn_box'], out['rpn_boxes']).numpy()
  assert np.abs(grad).max() > 1e-5


def test_image_without_instances_trains_without_nan(model5):
  example = make_example(empty=True)
  with tf.GradientTape() as tape:
    out = train_call(model5, example)
    losses = mnc_losses.compute_losses(out, model_cfg.MncLosses())
  grads = tape.gradient(losses['total_loss'], model5.trainable_variables)
  for name, value in losses.items():
    assert np.isfinite(float(value)), name
  for s in (2, 4):
    assert float(losses[f'stage{s}_mask']) == 0.0
  assert float(losses['stage3_box']) == 0.0
  assert not np.any(out['stage3_cls_box_targets'].numpy())
  assert all(np.all(np.isfinite(g.numpy())) for g in grads if g is not None)


def test_three_stage_training_reports_stages_one_to_three():
  model = build(cascade={'num_train_stages': 3})
  out = train_call(model, make_example())
  losses = mnc_losses.compute_losses(out, model_cfg.MncLosses())
  assert 'stage3_cls_mask' in losses and 'stage4_mask' not in losses
  assert not any(k.startswith(('stage4', 'stage5')) for k in out)


def test_three_and_five_stage_inference(model5):
  example = make_example()
  model3 = build(cascade={'num_inference_stages': 3})
  model3.set_weights(model5.get_weights())
  run5 = tf.function(lambda x, i: model5(x, i, training=False))
  out5 = run5(example['images'], example['image_info'])
  out3 = model3(example['images'], example['image_info'], training=False)
  # Same weights: stage 3 of both agrees; only the 5-stage run has stage 5.
  np.testing.assert_allclose(out3['stage3_scores'].numpy(),
                             out5['stage3_scores'].numpy(), rtol=1e-4,
                             atol=1e-5)
  assert 'stage5_scores' in out5 and 'stage5_scores' not in out3
  for out in (out3, out5):
    num = int(out['num_detections'][0])
    assert 1 <= num <= 10
    classes = out['detection_classes'].numpy()[0]
    assert set(classes[:num]) <= set(CLASS_IDS)
    np.testing.assert_array_equal(classes[num:], 0)
    scores = out['detection_scores'].numpy()[0]
    assert np.all(np.diff(scores[:num]) <= 1e-7)
    assert out['detection_masks'].shape == (1, 10, 28, 28)
    masks = out['detection_masks'].numpy()
    assert masks.min() >= 0.0 and masks.max() <= 1.0 + 1e-6
    full = mask_paste.original_image_detections(out, example['image_info'])
    assert full['detection_masks'].shape == (10, 96, 96)
    assert full['detection_masks'].dtype == tf.uint8
  # 5-stage candidates are the 32 stage-3 plus the 32 stage-5 boxes.
  assert out5['stage5_boxes'].shape == (1, 32, 4)


def test_model_config_round_trip(model5):
  clone = mnc_model.MncModel.from_config(model5.get_config())
  assert clone.get_config() == model5.get_config()
  example = make_example()
  a = model5(example['images'], example['image_info'], training=False)
  b = clone(example['images'], example['image_info'], training=False)
  np.testing.assert_allclose(a['stage3_scores'].numpy(),
                             b['stage3_scores'].numpy(), rtol=1e-6)


def test_unknown_gt_class_id_is_an_error(model5):
  example = make_example()
  example['gt_classes'][0, 0] = 5
  with pytest.raises(tf.errors.InvalidArgumentError, match='class_ids'):
    train_call(model5, example)


def test_training_needs_ground_truth(model5):
  example = make_example()
  with pytest.raises(ValueError, match='needs gt_boxes'):
    model5(example['images'], example['image_info'], training=True)


def test_roi_feature_reduction_feeds_stages_two_to_five():
  model = build(roi_feature_channels=8)
  example = make_example()
  reducer = model.roi_feature_reducer
  features = model.backbone(example['images'])
  reduced = model.roi_feature_map(features)
  # The tiny backbone's 64 channels -> 8, same grid; ReLU output.
  assert features.shape[-1] == 64 and reduced.shape == (*features.shape[:3], 8)
  assert float(tf.reduce_min(reduced)) >= 0.0
  expected = np.maximum(
      np.einsum('bhwc,cd->bhwd', features.numpy(),
                reducer.kernel.numpy()[0, 0]) + reducer.bias.numpy(), 0.0)
  np.testing.assert_allclose(reduced.numpy(), expected, rtol=1e-5, atol=1e-5)
  # Stage 2's fc sees 7 x 7 x 8 warped features; the RPN the backbone's 64.
  assert model.mask_head.weights[0].shape[0] == 7 * 7 * 8
  assert model.rpn_head.weights[0].shape[2] == 64
  # Trained through every stage (the mask losses of stages 2 and 4 too).
  for loss_name in ('stage2_mask', 'stage5_cls_mask'):
    grad = gradient_of(model, loss_name, reducer.kernel)
    assert grad is not None and np.abs(grad.numpy()).max() > 0
  clone = mnc_model.MncModel.from_config(model.get_config())
  assert clone.get_config()['roi_feature_reducer'] is reducer


def test_no_roi_feature_reduction_by_default(model5):
  assert model5.roi_feature_reducer is None
  assert model5.mask_head.weights[0].shape[0] == 7 * 7 * 64


@pytest.mark.parametrize('overrides, message', [
    ({'roi_warp': {'output_size': 14, 'pooled_size': 4}}, 'multiple of'),
    ({'classifier_head': {'pooled_size': 5}}, 'multiple of'),
    ({'backbone': {'type': 'alexnet'}}, 'backbone.type'),
    ({'roi_warp_implementation': 'cuda'}, 'roi_warp_implementation'),
    ({'cascade': {'num_train_stages': 4}}, '3 or 5'),
    ({'roi_feature_channels': -1}, 'roi_feature_channels'),
])
def test_factory_rejects_bad_configs(overrides, message):
  with pytest.raises(ValueError, match=message):
    factory.build_mnc_model(model_cfg.tiny_model_config(**overrides),
                            build=False)


def test_diverged_weights_give_a_nan_loss_not_a_crash():
  # Model Garden's trainer turns a NaN loss into a recovery from the last
  # checkpoint (trainer.recovery_max_trials) or a clear error; an op that
  # raised on NaN boxes would bypass both.
  model = build()
  kernel = model.classifier_head._box.kernel
  kernel.assign(tf.fill(kernel.shape, np.nan))
  out = train_call(model, make_example())
  losses = mnc_losses.compute_losses(out, model_cfg.MncLosses())
  assert not np.isfinite(float(losses['total_loss']))
  assert np.all(np.isfinite(out['stage2_mask_logits'].numpy()))
