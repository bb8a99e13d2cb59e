# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""compute_losses against NumPy formulas on hand-made outputs."""
import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.configs import model as model_cfg
from mnc_tf.losses import mnc_losses
from official.vision.losses import maskrcnn_losses


def bce(logit, label):
  return max(logit, 0) - logit * label + np.log1p(np.exp(-abs(logit)))


def huber(x, delta):
  x = abs(x)
  return 0.5 * x * x if x <= delta else delta * (x - 0.5 * delta)


def smooth_l1(x, sigma):
  """py-faster-rcnn's SmoothL1Loss element (independent of `huber`)."""
  x = abs(x)
  return 0.5 * (sigma * x) ** 2 if x < 1.0 / sigma ** 2 else x - 0.5 / sigma ** 2


def softmax_ce(logits, label):
  logits = logits - logits.max()
  return np.log(np.exp(logits).sum()) - logits[label]


def make_outputs(rng, stages=(2, 3, 4, 5), k=4, m=3, n1=3):
  out = {
      'rpn_scores': rng.randn(1, 2, 2, 1).astype(np.float32),
      'rpn_score_targets': np.array([[[[1], [0]], [[-1], [0]]]], np.int32),
      'rpn_boxes': rng.randn(1, 2, 2, 4).astype(np.float32),
      'rpn_box_targets': np.zeros([1, 2, 2, 4], np.float32),
  }
  out['rpn_box_targets'][0, 0, 0] = [0.05, -0.1, 0.3, 0.0]
  for s in stages:
    p = f'stage{s}_'
    if s % 2 == 0:
      out[p + 'mask_logits'] = rng.randn(1, k, m, m).astype(np.float32)
      out[p + 'mask_targets'] = (rng.rand(1, k, m, m) > 0.5).astype(np.float32)
      out[p + 'mask_weights'] = np.array([[1, 0, 1, 0]], np.float32)
    else:
      out[p + 'cls_mask_logits'] = rng.randn(1, k, n1).astype(np.float32)
      out[p + 'cls_box_logits'] = rng.randn(1, k, n1).astype(np.float32)
      out[p + 'box_outputs'] = rng.randn(1, k, 4 * n1).astype(np.float32)
      out[p + 'cls_mask_targets'] = np.array([[2, 0, 0, 1]], np.int32)
      out[p + 'cls_box_targets'] = np.array([[2, 1, 0, 1]], np.int32)
      out[p + 'box_targets'] = rng.randn(1, k, 4).astype(np.float32)
      out[p + 'sample_weights'] = np.array([[1, 1, 1, 0]], np.float32)
  return out


def numpy_losses(out, cfg):
  want = {}
  t = out['rpn_score_targets'].reshape(-1)
  x = out['rpn_scores'].reshape(-1)
  want['stage1_rpn_score'] = np.mean([bce(x[i], t[i]) for i in range(4)
                                      if t[i] >= 0])
  bt = out['rpn_box_targets'].reshape(-1, 4)
  bo = out['rpn_boxes'].reshape(-1, 4)
  if cfg.rpn_box_loss_type == 'huber_per_positive':
    pos = np.abs(bt).max(axis=1) > 1e-6
    want['stage1_rpn_box'] = sum(
        huber(bo[i, j] - bt[i, j], cfg.rpn_huber_loss_delta)
        for i in np.where(pos)[0] for j in range(4)) / (4 * pos.sum() + 0.01)
  else:   # the original release: sum over label-1 anchors / sampled anchors
    want['stage1_rpn_box'] = sum(
        smooth_l1(bo[i, j] - bt[i, j], cfg.rpn_smooth_l1_sigma)
        for i in np.where(t == 1)[0] for j in range(4)) / (t >= 0).sum()
  stage = {1: cfg.rpn_score_weight * want['stage1_rpn_score']
              + cfg.rpn_box_weight * want['stage1_rpn_box']}
  for s in (2, 4):
    p = f'stage{s}_'
    if p + 'mask_logits' not in out:
      continue
    w = out[p + 'mask_weights'][0]
    lg, tg = out[p + 'mask_logits'][0], out[p + 'mask_targets'][0]
    total = sum(bce(lg[r, i, j], tg[r, i, j]) for r in np.where(w > 0)[0]
                for i in range(lg.shape[1]) for j in range(lg.shape[2]))
    want[p + 'mask'] = total / (w.sum() * lg.shape[1] * lg.shape[2] + 0.01)
    stage[s] = cfg.mask_weight * want[p + 'mask']
  for s in (3, 5):
    p = f'stage{s}_'
    if p + 'cls_mask_logits' not in out:
      continue
    w = out[p + 'sample_weights'][0]
    for name in ('cls_mask', 'cls_box'):
      logits, labels = out[p + name + '_logits'][0], out[p + name +
                                                         '_targets'][0]
      want[p + name] = sum(w[r] * softmax_ce(logits[r], labels[r])
                           for r in range(len(w))) / w.sum()
    labels = out[p + 'cls_box_targets'][0]
    deltas = out[p + 'box_outputs'][0].reshape(len(labels), -1, 4)
    positives = np.where(labels > 0)[0]
    want[p + 'box'] = sum(
        huber(deltas[r, labels[r], j] - out[p + 'box_targets'][0, r, j],
              cfg.box_huber_loss_delta)
        for r in positives for j in range(4)) / (4 * len(positives) + 0.01)
    stage[s] = (cfg.cls_mask_weight * want[p + 'cls_mask'] + cfg.cls_box_weight
                * want[p + 'cls_box'] + cfg.box_weight * want[p + 'box'])
  want['total_loss'] = sum(cfg.stage_weights[s - 1] * v
                           for s, v in stage.items())
  return want


@pytest.mark.parametrize('rpn_box_loss_type', ['smooth_l1_per_sampled_anchor',
                                               'huber_per_positive'])
@pytest.mark.parametrize('stages', [(2, 3, 4, 5), (2, 3)])
def test_losses_match_numpy(stages, rpn_box_loss_type):
  out = make_outputs(np.random.RandomState(0), stages)
  cfg = model_cfg.MncLosses(stage_weights=[1.0, 2.0, 0.5, 1.5, 0.25],
                            rpn_box_weight=3.0, mask_weight=2.0,
                            cls_box_weight=0.7, box_weight=1.3,
                            rpn_box_loss_type=rpn_box_loss_type)
  got = {k: float(v) for k, v in mnc_losses.compute_losses(
      {k: tf.constant(v) for k, v in out.items()}, cfg).items()}
  want = numpy_losses(out, cfg)
  for key, value in want.items():
    np.testing.assert_allclose(got[key], value, rtol=1e-4, err_msg=key)
  names = {'stage1_rpn_score', 'stage1_rpn_box', 'total_loss'}
  for s in stages:
    names |= ({f'stage{s}_mask'} if s % 2 == 0 else
              {f'stage{s}_cls_mask', f'stage{s}_cls_box', f'stage{s}_box'})
    names.add(f'stage{s}_loss')
  names.add('stage1_loss')
  assert set(got) == names


def test_padding_samples_and_empty_positives_give_zero_not_nan():
  out = make_outputs(np.random.RandomState(1), (2, 3))
  out['stage2_mask_weights'][:] = 0
  out['stage3_cls_box_targets'][:] = 0
  out['stage3_sample_weights'][:] = 0
  got = mnc_losses.compute_losses({k: tf.constant(v) for k, v in out.items()},
                                  model_cfg.MncLosses())
  for key in ('stage2_mask', 'stage3_cls_mask', 'stage3_cls_box',
              'stage3_box'):
    assert float(got[key]) == 0.0, key
  assert np.isfinite(float(got['total_loss']))


def test_stage_weights_must_have_five_entries():
  with pytest.raises(ValueError, match='5 entries'):
    mnc_losses.compute_losses({}, model_cfg.MncLosses(stage_weights=[1.0]))


def test_objectness_and_classification_normalize_per_image():
  # Image 0 has 1 sampled anchor, image 1 has 3: each image is averaged on
  # its own, then the images are averaged (one image per replica gives the
  # same loss and gradients).
  logits = np.array([[0.5, 2.0, -1.0, 0.3], [1.5, -0.5, 0.2, 0.7]],
                    np.float32).reshape(2, 1, 1, 4)
  labels = np.array([[1, -1, -1, -1], [0, 1, 1, -1]],
                    np.int32).reshape(2, 1, 1, 4)
  want = 0.5 * (bce(0.5, 1) + (bce(1.5, 0) + bce(-0.5, 1) + bce(0.2, 1)) / 3)
  np.testing.assert_allclose(
      float(mnc_losses.rpn_score_loss(logits, labels)), want, rtol=1e-6)
  cls = np.random.RandomState(2).randn(2, 3, 4).astype(np.float32)
  targets = np.array([[1, 0, 3], [2, 2, 0]], np.int32)
  weights = np.array([[1, 0, 0], [1, 1, 1]], np.float32)
  want = 0.5 * (softmax_ce(cls[0, 0], 1) + sum(
      softmax_ce(cls[1, k], targets[1, k]) for k in range(3)) / 3)
  np.testing.assert_allclose(float(mnc_losses.weighted_classification_loss(
      cls, targets, weights)), want, rtol=1e-5)


def test_mask_and_box_terms_equal_model_gardens_and_keep_float64():
  rng = np.random.RandomState(3)
  out = make_outputs(rng)
  out['stage3_box_targets'][0, 2] = 0.0
  mg_mask = maskrcnn_losses.MaskrcnnLoss()(
      tf.constant(out['stage2_mask_logits']),
      tf.constant(out['stage2_mask_targets']),
      tf.constant(out['stage2_mask_weights']))
  mg_box = maskrcnn_losses.FastrcnnBoxLoss(1.0)(
      tf.constant(out['stage3_box_outputs']),
      tf.constant(out['stage3_cls_box_targets']),
      tf.constant(out['stage3_box_targets']))
  mg_rpn = maskrcnn_losses.RpnBoxLoss(1.0 / 9.0)(
      {'0': tf.constant(out['rpn_boxes'])},
      {'0': tf.constant(out['rpn_box_targets'])})
  for dtype in (tf.float32, tf.float64):
    c = lambda name: tf.constant(out[name], dtype)
    mask = mnc_losses.mask_loss(c('stage2_mask_logits'),
                                c('stage2_mask_targets'),
                                c('stage2_mask_weights'))
    box = mnc_losses.class_box_loss(c('stage3_box_outputs'),
                                    out['stage3_cls_box_targets'],
                                    c('stage3_box_targets'), 1.0)
    rpn = mnc_losses.rpn_box_loss(c('rpn_boxes'), c('rpn_box_targets'),
                                  out['rpn_score_targets'],
                                  'huber_per_positive', huber_delta=1.0 / 9.0)
    for got, want in ((mask, mg_mask), (box, mg_box), (rpn, mg_rpn)):
      assert got.dtype == dtype
      np.testing.assert_allclose(float(got), float(want), rtol=1e-5)


def test_unknown_rpn_box_loss_type_is_named():
  out = make_outputs(np.random.RandomState(0), (2, 3))
  with pytest.raises(ValueError, match='rpn_box_loss_type'):
    mnc_losses.compute_losses(
        {k: tf.constant(v) for k, v in out.items()},
        model_cfg.MncLosses(rpn_box_loss_type='l2'))
