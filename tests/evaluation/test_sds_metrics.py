# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Tests of mAP^r (SDS protocol): hand-computed values and pycocotools."""
import numpy as np
import pytest
from pycocotools import coco as coco_api
from pycocotools import cocoeval
from pycocotools import mask as mask_api

from mnc_tf.evaluation import sds_metrics
import sds_scenario


def _rle(mask):
  return mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))


def _scenario_inputs():
  gts = {}
  for image_id, instances in sds_scenario.GT.items():
    gts[image_id] = sds_metrics.ImageGroundtruth(
        classes=np.array([c for c, _, _ in instances]),
        rles=[_rle(sds_scenario.strip(x0, x1)) for _, x0, x1 in instances])
  dets = {}
  for image_id in sds_scenario.GT:
    rows = [d for d in sds_scenario.DETS if d[0] == image_id]
    dets[image_id] = sds_metrics.ImageDetections(
        classes=np.array([d[1] for d in rows]),
        scores=np.array([d[2] for d in rows]),
        rles=[_rle(sds_scenario.strip(d[3], d[4])) for d in rows])
  return gts, dets


def test_match_flags_follow_sds_rules():
  gts, dets = _scenario_inputs()
  scores, is_tp, is_fp, npos = sds_metrics.match_class(gts, dets, 1, 0.5)
  np.testing.assert_allclose(scores, [0.9, 0.8, 0.7, 0.6])
  # d2's best overlap (g1) is taken -> FP although g2 has IoU .613.
  assert is_tp.tolist() == [True, False, True, True]
  assert is_fp.tolist() == [False, True, False, False]
  assert npos == 3


@pytest.mark.parametrize('use_07', [True, False])
def test_hand_computed_map(use_07):
  gts, dets = _scenario_inputs()
  result = sds_metrics.evaluate_sds(gts, dets, (0.5, 0.7), use_07)
  suffix = '07' if use_07 else 'area'
  assert result['mAPr50'] == pytest.approx(
      sds_scenario.EXPECTED[f'mAPr50_{suffix}'])
  assert result['mAPr70'] == pytest.approx(
      sds_scenario.EXPECTED[f'mAPr70_{suffix}'])
  # Class 2 has detections but no ground truth: not part of the mean.
  assert set(result['per_class_APr50']) == {1}


def test_ignored_groundtruth_neither_helps_nor_hurts():
  gt_mask = sds_scenario.strip(0, 50)
  crowd = sds_scenario.strip(60, 100)
  gts = {1: sds_metrics.ImageGroundtruth(
      classes=np.array([1, 1]), rles=[_rle(gt_mask), _rle(crowd)],
      ignore=np.array([False, True]))}
  dets = {1: sds_metrics.ImageDetections(
      classes=np.array([1, 1]), scores=np.array([0.9, 0.8]),
      rles=[_rle(crowd), _rle(gt_mask)])}
  _, is_tp, is_fp, npos = sds_metrics.match_class(gts, dets, 1, 0.5)
  assert npos == 1
  assert is_tp.tolist() == [False, True]
  assert is_fp.tolist() == [False, False]
  result = sds_metrics.evaluate_sds(gts, dets, (0.5,))
  assert result['mAPr50'] == pytest.approx(1.0)


def test_detection_on_unknown_image_is_an_error():
  gts, dets = _scenario_inputs()
  dets[99] = dets[1]
  with pytest.raises(ValueError, match='image 99'):
    sds_metrics.evaluate_sds(gts, dets)


def _random_disjoint_scene(rng, image_id, height=40, width=60):
  """Non-overlapping rectangles as gt; noisy copies and clutter as dets."""
  gt_classes, gt_masks = [], []
  for k in range(rng.integers(1, 4)):
    x0 = 20 * k + rng.integers(0, 4)
    y0 = rng.integers(0, 15)
    mask = np.zeros((height, width), np.uint8)
    mask[y0:y0 + rng.integers(10, 25), x0:x0 + rng.integers(8, 16)] = 1
    gt_masks.append(mask)
    gt_classes.append(int(rng.integers(1, 4)))
  det_classes, det_masks = [], []
  for cls, mask in zip(gt_classes, gt_masks):
    for _ in range(rng.integers(0, 3)):  # 0-2 noisy copies (duplicates).
      noisy = mask.copy()
      flip = rng.random(mask.shape) < 0.15
      noisy[flip] = 1 - noisy[flip]
      det_masks.append(noisy)
      det_classes.append(cls if rng.random() < 0.8 else int(rng.integers(1, 4)))
  for _ in range(rng.integers(0, 3)):  # Clutter.
    clutter = np.zeros((height, width), np.uint8)
    y, x = rng.integers(0, 30), rng.integers(0, 50)
    clutter[y:y + 10, x:x + 10] = 1
    det_masks.append(clutter)
    det_classes.append(int(rng.integers(1, 4)))
  return gt_classes, gt_masks, det_classes, det_masks


def test_matches_pycocotools_when_protocols_coincide():
  """With disjoint gt and IoU >= .5, SDS and COCO matching are the same.

  A detection can then reach IoU >= .5 with one gt at most, so the two
  protocols mark the same TPs; the 101-point interpolated AP of our ranked
  flags must equal pycocotools' per-class precision mean.
  """
  rng = np.random.default_rng(0)
  images, anns, gts, dets, results = [], [], {}, {}, []
  scores = iter(rng.permutation(1000) / 1000.0 + 1e-4)
  for image_id in range(1, 13):
    gt_classes, gt_masks, det_classes, det_masks = _random_disjoint_scene(
        rng, image_id)
    images.append({'id': image_id, 'height': 40, 'width': 60})
    for cls, mask in zip(gt_classes, gt_masks):
      rle = _rle(mask)
      anns.append({'id': len(anns) + 1, 'image_id': image_id,
                   'category_id': cls, 'segmentation': rle, 'iscrowd': 0,
                   'area': float(mask.sum()),
                   'bbox': mask_api.toBbox(rle).tolist()})
    det_scores = np.array([next(scores) for _ in det_classes])
    gts[image_id] = sds_metrics.ImageGroundtruth(
        np.array(gt_classes), [_rle(m) for m in gt_masks])
    dets[image_id] = sds_metrics.ImageDetections(
        np.array(det_classes, np.int64), det_scores,
        [_rle(m) for m in det_masks])
    for cls, score, mask in zip(det_classes, det_scores, det_masks):
      results.append({'image_id': image_id, 'category_id': cls,
                      'score': float(score), 'segmentation': _rle(mask)})
  coco_gt = coco_api.COCO()
  coco_gt.dataset = {'images': images, 'annotations': anns,
                     'categories': [{'id': c} for c in (1, 2, 3)]}
  coco_gt.createIndex()
  coco_dt = coco_gt.loadRes(results)
  coco_eval = cocoeval.COCOeval(coco_gt, coco_dt, iouType='segm')
  coco_eval.evaluate()
  coco_eval.accumulate()
  for t_index, threshold in ((0, 0.5), (4, 0.7)):
    assert coco_eval.params.iouThrs[t_index] == pytest.approx(threshold)
    compared = 0
    for k, class_id in enumerate(coco_eval.params.catIds):
      _, is_tp, is_fp, npos = sds_metrics.match_class(gts, dets, class_id,
                                                      threshold)
      if npos == 0:
        continue
      tp, fp = np.cumsum(is_tp), np.cumsum(is_fp)
      recall, precision = tp / npos, tp / np.maximum(tp + fp, 1e-12)
      envelope = np.maximum.accumulate(precision[::-1])[::-1]
      ours = np.mean([envelope[np.searchsorted(recall, r, side='left')]
                      if np.searchsorted(recall, r, side='left') < len(recall)
                      else 0.0 for r in coco_eval.params.recThrs])
      theirs = coco_eval.eval['precision'][t_index, :, k, 0, -1].mean()
      assert ours == pytest.approx(theirs, abs=1e-9), (threshold, class_id)
      compared += 1
    assert compared == 3
