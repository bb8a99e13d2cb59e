# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The MNC layers: config round trips and numbers against NumPy."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from mnc_tf.modeling.heads import classifier_head
from mnc_tf.modeling.heads import mask_head
from mnc_tf.modeling.heads import rpn_head
from mnc_tf.modeling.layers import detection_generator
from mnc_tf.modeling.layers import masking
from mnc_tf.modeling.layers import proposals
from mnc_tf.modeling.layers import roi_sampler
from mnc_tf.modeling.layers import roi_warp
from mnc_tf.ops import box_utils

LAYERS = [
    lambda: roi_warp.RoiWarp(output_size=14, spatial_scale=0.25, pooled_size=7,
                             implementation='tf'),
    lambda: proposals.ProposalGenerator(pre_nms_top_k=50, num_proposals=7,
                                        min_size=3.0),
    lambda: roi_sampler.RoiSampler(num_samples=9, fg_fraction=0.5),
    lambda: masking.FeatureMasking(),
    lambda: detection_generator.DetectionGenerator(voting_resolution=9,
                                                   max_num_detections=4),
    lambda: rpn_head.RpnHead(6, num_filters=8,
                             kernel_regularizer=tf_keras.regularizers.l2(1e-4)),
    lambda: mask_head.MaskHead(mask_size=6, fc_dim=5),
    lambda: classifier_head.MaskedClassifierHead(
        num_classes=3, pooled_size=2, fc_dims=8, dropout_rate=0.25,
        kernel_regularizer=tf_keras.regularizers.l2(1e-4)),
]


@pytest.mark.parametrize('make', LAYERS)
def test_get_config_round_trip(make):
  layer = make()
  config = layer.get_config()
  clone = type(layer).from_config(config)
  assert clone.get_config() == config
  # Through Keras' registry as well (what model saving uses).
  again = tf_keras.layers.deserialize(tf_keras.layers.serialize(layer))
  assert type(again) is type(layer) and again.get_config() == config


def test_heads_match_numpy():
  rng = np.random.RandomState(0)
  feats = rng.randn(2, 3, 4, 4, 5).astype(np.float32)
  probs = rng.uniform(size=[2, 3, 8, 8]).astype(np.float32)
  head = mask_head.MaskHead(mask_size=8, fc_dim=6)
  logits = head(feats).numpy()
  (w1, b1), (w2, b2) = [l.get_weights() for l in (head._hidden, head._logits)]
  flat = feats.reshape(2, 3, -1)
  want = (np.maximum(flat @ w1 + b1, 0) @ w2 + b2).reshape(2, 3, 8, 8)
  np.testing.assert_allclose(logits, want, rtol=1e-4, atol=1e-5)

  cls = classifier_head.MaskedClassifierHead(num_classes=3, pooled_size=2,
                                             fc_dims=7, dropout_rate=0.0)
  cls_mask, cls_box, boxes = [t.numpy() for t in cls(feats, probs)]
  # Eq. 3: the 8x8 mask, averaged 2x2 to the 4x4 grid, multiplies features.
  small = probs.reshape(2, 3, 4, 2, 4, 2).mean(axis=(3, 5))
  masked = feats * small[..., None]
  def pool(x):
    return x.reshape(2, 3, 2, 2, 2, 2, 5).max(axis=(3, 5)).reshape(2, 3, -1)
  def fc(layer, x):
    w, b = layer.get_weights()
    return np.maximum(x @ w + b, 0)
  joined = np.concatenate([
      fc(cls.fc7_mask, fc(cls.fc6_mask, pool(masked))),
      fc(cls.fc7_box, fc(cls.fc6_box, pool(feats)))], axis=-1)
  for layer, got in ((cls._cls_mask, cls_mask), (cls._cls_box, cls_box),
                     (cls._box, boxes)):
    w, b = layer.get_weights()
    np.testing.assert_allclose(got, joined @ w + b, rtol=1e-4, atol=1e-5)
  assert boxes.shape == (2, 3, 12)


def np_decode(delta, anchor):
  h, w = anchor[2] - anchor[0], anchor[3] - anchor[1]
  cy, cx = anchor[0] + h / 2, anchor[1] + w / 2
  dh, dw = min(delta[2], np.log(1000 / 16)), min(delta[3], np.log(1000 / 16))
  ny, nx, nh, nw = delta[0] * h + cy, delta[1] * w + cx, np.exp(dh) * h, np.exp(
      dw) * w
  return np.array([ny - nh / 2, nx - nw / 2, ny + nh / 2, nx + nw / 2])


def np_iou(a, b):
  ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
  iw = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
  inter = ih * iw
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
                  - inter)


def proposal_inputs(seed=1):
  rng = np.random.RandomState(seed)
  anchors = box_utils.generate_anchors(64, 80, 16, [16.0, 40.0], [0.5, 2.0])
  scores = rng.randn(1, 4, 5, 4).astype(np.float32)
  deltas = (0.2 * rng.randn(1, 4, 5, 16)).astype(np.float32)
  return anchors, scores, deltas


def test_proposals_match_numpy_reference():
  anchors, scores, deltas = proposal_inputs()
  shape = np.array([[60.0, 75.0]], np.float32)
  layer = proposals.ProposalGenerator(pre_nms_top_k=30, test_pre_nms_top_k=30,
                                      nms_iou_threshold=0.5, num_proposals=12,
                                      test_num_proposals=12, min_size=12.0)
  rois, roi_scores, valid, anchor_index = [t.numpy() for t in layer(
      scores, deltas, anchors, shape, training=True)]
  flat_anchors = anchors.numpy().reshape(-1, 4)
  boxes = np.array([np_decode(d, a) for d, a in
                    zip(deltas.reshape(-1, 4), flat_anchors)])
  boxes = np.clip(boxes, 0, [60, 75, 60, 75])
  probs = 1 / (1 + np.exp(-scores.reshape(-1)))
  ok = ((boxes[:, 2] - boxes[:, 0] >= 12) & (boxes[:, 3] - boxes[:, 1] >= 12))
  order = [i for i in np.argsort(-np.where(ok, probs, -1))[:30] if ok[i]]
  keep = []
  for i in order:
    if all(np_iou(boxes[i], boxes[j]) <= 0.5 for j in keep):
      keep.append(i)
  keep = keep[:12]
  assert valid[0].sum() == len(keep)
  np.testing.assert_allclose(rois[0, :len(keep)], boxes[keep], rtol=1e-5,
                             atol=1e-3)
  np.testing.assert_allclose(roi_scores[0, :len(keep)], probs[keep],
                             rtol=1e-5)
  np.testing.assert_array_equal(rois[0, len(keep):], 0.0)
  np.testing.assert_array_equal(anchor_index[0, :len(keep)], keep)


def test_proposals_are_differentiable_in_the_rpn_deltas():
  anchors, scores, deltas = proposal_inputs(seed=2)
  shape = tf.constant([[64.0, 80.0]])
  # The true derivative everywhere (the release's zeroing of border
  # proposals' gradient: tests/modeling/test_border_anchors.py).
  layer = proposals.ProposalGenerator(pre_nms_top_k=40, nms_iou_threshold=0.7,
                                      num_proposals=6, min_size=0.0,
                                      box_gradient_inside_image_only=False)

  def rois_of(d):
    return layer(scores, d, anchors, shape, training=True)[0]

  theoretical, numerical = tf.test.compute_gradient(rois_of, [deltas],
                                                    delta=1e-3)
  assert np.abs(theoretical[0]).max() > 1.0
  np.testing.assert_allclose(theoretical[0], numerical[0], atol=0.05,
                             rtol=0.02)


def test_roi_sampler_balances_and_flags_padding():
  tf.random.set_seed(4)
  gt = np.array([[[0, 0, 20, 20], [-1, -1, -1, -1]]], np.float32)
  gt_valid = np.array([[True, False]])
  boxes = np.array([[[0, 0, 20, 20], [0, 0, 20, 19], [1, 1, 20, 20],
                     [0, 0, 40, 40], [30, 30, 50, 50], [0, 0, 20, 30],
                     [0, 0, 0, 0]]], np.float32)
  # IoUs with the gt: 1, .95, .9025, .25, 0, .667, 0 (the last is invalid).
  valid = np.array([[True] * 6 + [False]])
  sampler = roi_sampler.RoiSampler(num_samples=4, fg_fraction=0.5,
                                   fg_iou_threshold=0.5,
                                   bg_iou_thresholds=[0.5, 0.1],
                                   bg_fractions=[1.0])
  seen = set()
  for _ in range(10):
    index, ok = [t.numpy()[0] for t in sampler(boxes, valid, gt, gt_valid)]
    # 2 foreground (the quota), then the only background, then padding.
    np.testing.assert_array_equal(ok, [True, True, True, False])
    assert set(index[:2]) <= {0, 1, 2, 5} and index[0] != index[1]
    assert index[2] == 3
    seen |= set(index[:2].tolist())
  assert len(seen) >= 3   # the foreground choice is random
  # A larger quota takes every foreground box; no invalid / IoU < 0.1 box.
  sampler = roi_sampler.RoiSampler(num_samples=10, fg_fraction=0.5,
                                   bg_iou_thresholds=[0.5, 0.1],
                                   bg_fractions=[1.0])
  index, ok = [t.numpy()[0] for t in sampler(boxes, valid, gt, gt_valid)]
  np.testing.assert_array_equal(ok, [True] * 5 + [False] * 5)
  assert set(index[:4]) == {0, 1, 2, 5} and index[4] == 3


def test_feature_masking_identity_size():
  feats = tf.random.normal([1, 2, 3, 3, 4])
  probs = tf.random.uniform([1, 2, 3, 3])
  got = masking.FeatureMasking()(feats, probs)
  np.testing.assert_allclose(got.numpy(), (feats * probs[..., None]).numpy(),
                             rtol=1e-6)


@pytest.mark.parametrize('mask_size, side', [(14, 7), (28, 14), (21, 14),
                                             (14, 14), (7, 14)])
def test_feature_masking_resize_equals_tf_image_resize(mask_size, side):
  feats = tf.random.normal([2, 3, side, side, 4])
  probs = tf.random.uniform([2, 3, mask_size, mask_size])
  want = tf.image.resize(tf.reshape(probs, [-1, mask_size, mask_size, 1]),
                         [side, side], method='bilinear')
  want = tf.reshape(want, [2, 3, side, side, 1]) * feats
  got = masking.FeatureMasking()(feats, probs)
  np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
  # float64 in, float64 out (no float32 resize in between).
  got64 = masking.FeatureMasking(dtype='float64')(
      tf.cast(feats, tf.float64), tf.cast(probs, tf.float64))
  assert got64.dtype == tf.float64


def _numpy_band_counts(ious, valid, k, fg_fraction, edges, fractions):
  """The original release's `_sample_rois` counts (proposal_target_layer)."""
  fg = int(min((ious >= 0.5)[valid].sum(), np.round(k * fg_fraction)))
  rest = k - fg
  counts = [fg]
  for high, low, share in zip(edges, edges[1:], fractions):
    members = ((ious < high) & (ious >= low) & valid).sum()
    counts.append(int(min(members, np.round(rest * share))))
  return counts


@pytest.mark.parametrize('k, num_fg', [(64, 40), (64, 5), (20, 2)])
def test_roi_sampler_background_bands_follow_the_original_release(k, num_fg):
  rng = np.random.RandomState(k + num_fg)
  gt = np.array([[[0, 0, 100, 100]]], np.float32)
  # Candidates at chosen IoUs with the gt: boxes (0, 0, 100, w) have IoU
  # w / 100.
  ious = np.concatenate([rng.uniform(0.5, 1.0, num_fg),
                         rng.uniform(0.1, 0.5, 30), rng.uniform(0.0, 0.1, 25)])
  ious[-3:] = 0.0
  widths = np.maximum(ious * 100, 0.0)
  boxes = np.stack([np.zeros_like(widths), np.zeros_like(widths),
                    np.full_like(widths, 100), widths], axis=-1)
  boxes[-3:] = [200, 200, 220, 220]   # no overlap at all
  valid = np.ones(len(ious), bool)
  valid[5] = False
  sampler = roi_sampler.RoiSampler(num_samples=k)   # the release's defaults
  index, ok = [t.numpy()[0] for t in sampler(
      boxes[None].astype(np.float32), valid[None], gt, np.array([[True]]))]
  got_iou = ious[index[ok]]
  counts = [(got_iou >= 0.5).sum(), ((got_iou < 0.5) & (got_iou >= 0.1)).sum(),
            (got_iou < 0.1).sum()]
  want = _numpy_band_counts(ious, valid, k, 0.3, [0.5, 0.1, 0.0],
                            [0.85, 0.15])
  assert counts == want, (counts, want)
  assert ok.sum() == sum(want) and not ok[sum(want):].any()
  assert len(set(index[ok].tolist())) == ok.sum() and valid[index[ok]].all()
  # Order: foreground, band [0.1, 0.5), band [0, 0.1), padding.
  bands = np.digitize(-got_iou, [-0.5, -0.1])
  assert np.all(np.diff(bands) >= 0)


def test_roi_sampler_rejects_bad_bands():
  with pytest.raises(ValueError, match='bg_iou_thresholds'):
    roi_sampler.RoiSampler(bg_iou_thresholds=[0.1, 0.5], bg_fractions=[1.0])
