# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""`MncFpnModel`: anchors and RPN over levels, proposals, training, errors."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from mnc_tf.configs import model as model_cfg
from mnc_tf.losses import mnc_losses
from mnc_tf.modeling import factory
from mnc_tf.modeling import mnc_fpn_model
from mnc_tf.modeling.layers import proposals
from official.vision.modeling.backbones import resnet
from official.vision.ops import anchor as anchor_lib
from tests.modeling.synthetic_example import CLASS_IDS
from tests.modeling.synthetic_example import make_example

SIZE = 128


def build(**overrides):
  tf_keras.utils.set_random_seed(0)
  return factory.build_mnc_model(
      model_cfg.tiny_pyramid_model_config(class_ids=CLASS_IDS, **overrides))


def train_call(model, example):
  return model(example['images'], example['image_info'],
               gt_boxes=example['gt_boxes'], gt_classes=example['gt_classes'],
               gt_masks=example['gt_masks'], training=True)


@pytest.fixture(scope='module')
def model():
  return build()


def test_factory_builds_resnet_fpn_from_config(model):
  assert isinstance(model, mnc_fpn_model.MncFpnModel)
  assert isinstance(model.backbone.resnet, resnet.ResNet)
  assert type(model.decoder).__name__ == 'FPN'
  assert model.levels == [2, 3, 4, 5]
  assert sorted(model.decoder.output_specs) == ['2', '3', '4', '5']
  assert model.decoder.output_specs['3'][-1] == 32   # decoder.fpn.num_filters
  # One RPN head for every level: its three convs' kernels and biases.
  assert len(model.rpn_head.trainable_variables) == 6


def test_anchors_are_model_gardens_levels_side_by_side(model):
  images = tf.zeros([1, SIZE, 96, 3])
  got = model._anchors(images).numpy()  # pylint: disable=protected-access
  sizes = model._anchor_level_sizes(images)  # pylint: disable=protected-access
  want = anchor_lib.Anchor(2, 5, 1, [0.5, 1.0, 2.0], 8.0,
                           [SIZE, 96]).multilevel_boxes
  assert got.shape == (1, sum(SIZE * 96 // 4 ** l for l in range(2, 6)), 12)
  assert sizes == [SIZE * 96 // 4 ** l * 3 for l in range(2, 6)]
  flat = got.reshape(-1, 4)
  start = 0
  for level, size in zip(range(2, 6), sizes):
    np.testing.assert_allclose(
        flat[start:start + size], want[str(level)].numpy().reshape(-1, 4))
    side = np.sqrt((flat[start:start + size, 2] - flat[start:start + size, 0])
                   * (flat[start:start + size, 3] - flat[start:start + size, 1]))
    np.testing.assert_allclose(side, 8.0 * 2 ** level, rtol=1e-5)
    start += size


def test_rpn_outputs_are_the_shared_head_on_each_level(model):
  images = tf.random.stateless_normal([1, SIZE, SIZE, 3], seed=[1, 2])
  features = model.features(images)
  scores, boxes = model.rpn_outputs(features)
  locations = sum((SIZE // 2 ** l) ** 2 for l in range(2, 6))
  assert scores.shape == (1, 1, locations, 3)
  assert boxes.shape == (1, 1, locations, 12)
  level3_scores, level3_boxes = model.rpn_head(features['3'])
  start = (SIZE // 4) ** 2
  np.testing.assert_allclose(
      scores[0, 0, start:start + (SIZE // 8) ** 2].numpy(),
      level3_scores.numpy().reshape(-1, 3), rtol=1e-6)
  np.testing.assert_allclose(
      boxes[0, 0, start:start + (SIZE // 8) ** 2].numpy(),
      level3_boxes.numpy().reshape(-1, 12), rtol=1e-6)


def test_top_k_per_level_matches_numpy():
  rng = np.random.RandomState(0)
  scores = rng.rand(2, 50).astype(np.float32)
  sizes = [30, 12, 5, 3]
  values, index = proposals.top_k_per_level(tf.constant(scores), 4, sizes)
  starts = np.cumsum([0] + sizes[:-1])
  for b in range(2):
    want = np.concatenate([
        s + np.argsort(-scores[b, s:s + n], kind='stable')[:min(4, n)]
        for s, n in zip(starts, sizes)])
    np.testing.assert_array_equal(index.numpy()[b], want)
    np.testing.assert_array_equal(values.numpy()[b], scores[b, want])
  with pytest.raises(ValueError, match='add up to 40'):
    proposals.top_k_per_level(tf.constant(scores), 4, [30, 10])


def test_proposals_are_each_levels_top_k_then_one_nms():
  rng = np.random.RandomState(1)
  anchors = np.concatenate([  # 3 levels of disjoint 8 px squares
      np.stack([np.zeros(n), 10.0 * np.arange(n) + 100 * l,
                np.full(n, 8.0), 10.0 * np.arange(n) + 100 * l + 8], -1)
      for l, n in enumerate((8, 4, 2))])
  scores = rng.randn(1, 1, 14, 1).astype(np.float32)
  deltas = np.zeros([1, 1, 14, 4], np.float32)
  generator = proposals.ProposalGenerator(
      pre_nms_top_k=2, test_pre_nms_top_k=2, num_proposals=6,
      test_num_proposals=6, nms_iou_threshold=0.7, min_size=0.0)
  _, roi_scores, valid, index = generator(
      scores, deltas, anchors[None].reshape(1, 14, 4), tf.constant(
          [[10.0, 400.0]]), training=False, level_sizes=[8, 4, 2])
  flat = scores.reshape(-1)
  want = sorted(int(s + i) for s, n in ((0, 8), (8, 4), (12, 2))
                for i in np.argsort(-flat[s:s + n])[:2])
  assert valid.numpy().all()
  assert sorted(index.numpy()[0].tolist()) == want
  # Without level_sizes: the top 2 of all 14 anchors.
  _, _, valid, index = generator(
      scores, deltas, anchors[None].reshape(1, 14, 4),
      tf.constant([[10.0, 400.0]]), training=False)
  assert sorted(index.numpy()[0][valid.numpy()[0]].tolist()) == sorted(
      np.argsort(-flat)[:2].tolist())


@pytest.mark.parametrize('box_gradient', [True, False])
def test_box_gradient_reaches_the_rpn_through_the_pyramid(box_gradient):
  model = build(cascade={'box_gradient': box_gradient})
  example = make_example(SIZE)
  with tf.GradientTape() as tape:
    out = train_call(model, example)
    losses = mnc_losses.compute_losses(out, model_cfg.MncLosses())
    # Stages 2-5 reach the RPN's box regressor only through the proposals.
    cascade = sum(losses[name] for name in ('stage2_mask', 'stage3_cls_mask',
                                            'stage4_mask', 'stage5_cls_mask'))
  grad = tape.gradient(cascade, model.rpn_head.box_layer.kernel)
  if box_gradient:
    assert grad is not None and np.abs(grad.numpy()).max() > 0
  else:
    assert grad is None or not np.any(grad.numpy())
  for name in ('stage1_rpn_score', 'stage1_rpn_box', 'total_loss'):
    assert np.isfinite(float(losses[name])), name


@pytest.mark.slow
def test_tiny_pyramid_model_trains_and_infers():
  model = build()
  example = make_example(SIZE)
  optimizer = tf_keras.optimizers.SGD(0.005, momentum=0.9)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      losses = mnc_losses.compute_losses(train_call(model, example),
                                         model_cfg.MncLosses())
    grads = tape.gradient(losses['total_loss'], model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return losses['total_loss']

  totals = [float(step()) for _ in range(6)]
  assert np.all(np.isfinite(totals)), totals
  assert totals[-1] < totals[0], totals
  out = model(example['images'], example['image_info'], training=False)
  assert out['detection_masks'].shape[:2] == (1, 10)
  assert out['stage5_boxes'].shape == (1, 32, 4)
  assert np.all(np.isfinite(out['detection_scores'].numpy()))


def test_image_side_must_be_a_multiple_of_32(model):
  with pytest.raises(ValueError, match='multiples of 32'):
    model(tf.zeros([1, 80, 96, 3]), tf.constant(
        [[[80, 96], [80, 96], [1, 1], [0, 0]]], tf.float32), training=False)


def test_resnet_checkpoint_loads_into_the_pyramid_backbone(tmp_path):
  tf_keras.utils.set_random_seed(3)
  source = resnet.ResNet(model_id=18, bn_trainable=False)
  path = tf.train.Checkpoint(backbone=source).write(str(tmp_path / 'r18'))
  config = model_cfg.tiny_pyramid_model_config(class_ids=CLASS_IDS,
                                               init_checkpoint=path)
  model = factory.build_mnc_model(config)
  for want, got in zip(source.weights, model.backbone.resnet.weights):
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize('overrides, message', [
    ({'backbone': {'type': 'tiny'}}, "needs backbone.type 'resnet'"),
    ({'decoder': {'type': 'bifpn'}}, 'decoder.type'),
    ({'multilevel_roi_warp': {'max_level': 6}}, 'within decoder.fpn levels'),
    ({'multilevel_roi_warp': {'min_level': 1}}, 'within decoder.fpn levels'),
    ({'decoder': {'fpn': {'min_level': 1}}}, '2 <= min_level'),
    ({'roi_feature_channels': 64}, 'roi_feature_channels must be 0'),
])
def test_factory_rejects_bad_pyramid_configs(overrides, message):
  with pytest.raises(ValueError, match=message):
    factory.build_mnc_model(model_cfg.tiny_pyramid_model_config(**overrides),
                            build=False)


def test_model_config_round_trip(model):
  clone = mnc_fpn_model.MncFpnModel.from_config(model.get_config())
  assert clone.get_config() == model.get_config()
  example = make_example(SIZE)
  a = model(example['images'], example['image_info'], training=False)
  b = clone(example['images'], example['image_info'], training=False)
  np.testing.assert_allclose(a['stage3_scores'].numpy(),
                             b['stage3_scores'].numpy(), rtol=1e-6)


def test_the_model_takes_its_proposals_level_by_level():
  # 2 boxes per level before an NMS that suppresses nothing, 8 kept: each
  # of the 4 levels gives exactly 2 (a top-k over all anchors would take
  # most from level 2, which has 16x level 4's anchors).
  every = {'pre_nms_top_k': 2, 'test_pre_nms_top_k': 2, 'num_proposals': 8,
           'test_num_proposals': 8, 'nms_iou_threshold': 1.0, 'min_size': 0.0}
  model = build(proposal_generator=every)
  example = make_example(SIZE)
  rpn = model._rpn(tf.constant(example['images']),  # pylint: disable=protected-access
                   tf.constant(example['image_info']), training=False)
  sizes = model._anchor_level_sizes(example['images'])  # pylint: disable=protected-access
  assert bool(tf.reduce_all(rpn['rpn_roi_valid']))
  level = np.searchsorted(np.cumsum(sizes), rpn['rpn_roi_anchor_index'][0],
                          side='right')
  assert np.bincount(level, minlength=4).tolist() == [2, 2, 2, 2]
