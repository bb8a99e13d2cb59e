# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Per-stage, per-size counts of the stage breakdown, on hand-made cases."""

import json

import numpy as np
import pytest

from mnc_tf.benchmarks import stage_breakdown_metrics as metrics_lib
from mnc_tf.evaluation import instance_evaluator

HEIGHT, WIDTH = 120, 100


def _mask(y0, x0, y1, x1):
  mask = np.zeros((HEIGHT, WIDTH), np.uint8)
  mask[y0:y1, x0:x1] = 1
  return mask


def test_proposal_coverage_at_the_thresholds_themselves():
  gt_xywh = np.array([
      [0, 0, 20, 10],      # A: x 0-20, y 0-10
      [50, 60, 10, 20],    # B: x 50-60, y 60-80
      [70, 0, 10, 30],     # C: x 70-80, y 0-30
      [90, 100, 5, 5],     # D: no proposal near it
  ], np.float64)
  proposals = np.array([
      [0, 0, 10, 40],      # A at IoU 200 / 400 = 0.5 exactly
      [60, 50, 74, 60],    # B at IoU 140 / 200 = 0.7 exactly
      [0, 70, 30, 80],     # C exactly (x and y differ: order matters)
      [0, 0, 0, 0],        # padding
  ], np.float64)
  covered = metrics_lib.proposal_coverage(proposals, gt_xywh, (0.5, 0.7))
  np.testing.assert_array_equal(
      covered, [[True, False], [True, True], [True, True], [False, False]])
  # No proposals: nothing covered.
  assert not metrics_lib.proposal_coverage(np.zeros((0, 4)), gt_xywh).any()


def test_box_ious_against_numpy():
  rng = np.random.default_rng(0)
  corners = rng.uniform(0, 50, (6, 2, 2))
  boxes = np.concatenate([corners.min(1), corners.max(1)], axis=1)  # yxyx
  gt = boxes[:3] + rng.uniform(-5, 5, (3, 4))
  gt[:, 2:] = np.maximum(gt[:, 2:], gt[:, :2] + 1)
  ious = metrics_lib.box_ious(metrics_lib.yxyx_to_xywh(boxes),
                              metrics_lib.yxyx_to_xywh(gt))
  expected = np.zeros((6, 3))
  for i, b in enumerate(boxes):
    for j, g in enumerate(gt):
      h = max(0.0, min(b[2], g[2]) - max(b[0], g[0]))
      w = max(0.0, min(b[3], g[3]) - max(b[1], g[1]))
      inter = h * w
      union = ((b[2] - b[0]) * (b[3] - b[1]) + (g[2] - g[0]) * (g[3] - g[1])
               - inter)
      expected[i, j] = inter / union
  np.testing.assert_allclose(ious, expected, rtol=1e-9)


def test_matching_is_greedy_by_score_within_the_class():
  gt_xywh = [[0, 0, 10, 10], [20, 0, 10, 10]]
  gt_classes = [1, 1]
  dets = [[0, 0, 10, 10],   # 0: gt 0 exactly, low score
          [0, 0, 10, 10],   # 1: gt 0 exactly, high score: takes it
          [20, 0, 10, 10],  # 2: gt 1 exactly, wrong class
          [24, 0, 10, 10],  # 3: gt 1 at IoU 60 / 140 < 0.5
          [22, 0, 10, 10]]  # 4: gt 1 at IoU 80 / 120
  pairs = metrics_lib.match_detections(
      dets, [1, 1, 2, 1, 1], [0.5, 0.9, 0.99, 0.8, 0.1], gt_xywh, gt_classes)
  assert sorted(pairs) == [(1, 0), (4, 1)]
  assert metrics_lib.match_detections(np.zeros((0, 4)), [], [], gt_xywh,
                                      gt_classes) == []


def _scenario(tmp_path):
  """One image: two small instances, a medium one and a crowd region."""
  gts = [(1, _mask(10, 10, 20, 20), 0),    # small, area 100
         (2, _mask(40, 40, 80, 80), 0),    # medium, area 1600
         (3, _mask(85, 5, 95, 15), 0),     # small, area 100
         (1, _mask(100, 50, 110, 90), 1)]  # crowd: never counted
  anns = []
  for k, (cls, mask, crowd) in enumerate(gts):
    rle = instance_evaluator.encode_masks(mask[None])[0]
    ys, xs = np.nonzero(mask)
    anns.append({'id': k + 1, 'image_id': 7, 'category_id': cls,
                 'iscrowd': crowd, 'segmentation': rle,
                 'area': float(mask.sum()),
                 'bbox': [float(xs.min()), float(ys.min()),
                          float(xs.max() + 1 - xs.min()),
                          float(ys.max() + 1 - ys.min())]})
  path = tmp_path / 'val.json'
  path.write_text(json.dumps({
      'images': [{'id': 7, 'height': HEIGHT, 'width': WIDTH},
                 {'id': 8, 'height': HEIGHT, 'width': WIDTH}],
      'annotations': anns,
      'categories': [{'id': c} for c in (1, 2, 3)]}))
  breakdown = metrics_lib.StageBreakdown(str(path))
  proposals = [[10, 10, 20, 20],   # the first small one exactly
               [40, 40, 80, 88],   # the medium one at IoU 1600 / 1920
               [0, 0, 0, 0]]
  # Every box is exact; the masks cover 1/2, 3/4 and 1/4 of their instance.
  boxes = [[10, 10, 20, 20], [40, 40, 80, 80], [85, 5, 95, 15]]
  masks = np.stack([_mask(10, 10, 20, 15), _mask(40, 40, 80, 70),
                    _mask(85, 5, 95, 7) | _mask(85, 7, 86, 12)])
  # Third mask: 20 + 5 = 25 of the instance's 100 pixels.
  breakdown.add_image(7, proposals, boxes, [1, 2, 3], [0.9, 0.8, 0.7], masks)
  return breakdown


def test_stage_breakdown_per_size(tmp_path):
  table = _scenario(tmp_path).result()
  assert [label for label, _ in metrics_lib.SIZE_RANGES] == [
      'all', 'small', 'medium', 'large']
  small, medium, every = table['small'], table['medium'], table['all']
  assert (every['instances'], small['instances'], medium['instances']) == (
      3, 2, 1)
  # Stage 1: the small ones 1 of 2; the medium one at IoU 0.833.
  assert small['proposal_recall50'] == small['proposal_recall70'] == 0.5
  assert medium['proposal_recall50'] == 1.0
  assert medium['proposal_recall70'] == 1.0
  assert every['proposal_recall50'] == pytest.approx(2 / 3)
  # Boxes exact: AP 1 everywhere there are instances.
  for row in (every, small, medium):
    assert row['box_AP'] == pytest.approx(1.0)
    assert row['box_AP50'] == pytest.approx(1.0)
    assert row['box_matched'] == row['instances']
  # Masks: IoU 0.5 (class 1), 0.75 (class 2), 0.25 (class 3); COCO's AP
  # over IoU 0.5:0.95 counts 1, 6 and 0 of its 10 thresholds.
  assert every['mask_AP50'] == pytest.approx(2 / 3)
  assert every['mask_AP'] == pytest.approx((0.1 + 0.6 + 0.0) / 3)
  assert small['mask_AP50'] == pytest.approx(0.5)
  assert medium['mask_AP'] == pytest.approx(0.6)
  assert every['matched_mask_iou'] == pytest.approx((0.5 + 0.75 + 0.25) / 3)
  assert small['matched_mask_iou'] == pytest.approx(0.375)
  assert medium['matched_mask_iou'] == pytest.approx(0.75)
  assert every['matched_mask_iou50'] == pytest.approx(2 / 3)
  assert small['matched_mask_iou50'] == pytest.approx(0.5)
  # No large instance: undefined, not zero.
  large = table['large']
  assert large['instances'] == large['box_matched'] == 0
  assert large['proposal_recall50'] is None
  assert large['matched_mask_iou'] is None
  assert large['mask_AP'] == -1.0


def test_image_without_detections_still_counts(tmp_path):
  breakdown = _scenario(tmp_path)
  # Image 8 has no instance: nothing changes but the image count.
  breakdown.add_image(8, np.zeros((0, 4)), np.zeros((0, 4)), [], [],
                      np.zeros((0, HEIGHT, WIDTH), np.uint8))
  assert breakdown.num_images == 2
  assert breakdown.result()['all']['instances'] == 3
  assert breakdown.annotated_image_ids == [7, 8]


def test_bad_images_are_reported(tmp_path):
  breakdown = _scenario(tmp_path)
  with pytest.raises(ValueError, match='added twice'):
    breakdown.add_image(7, np.zeros((0, 4)), np.zeros((0, 4)), [], [],
                        np.zeros((0, HEIGHT, WIDTH), np.uint8))
  with pytest.raises(ValueError, match='not in the annotation file'):
    breakdown.add_image(99, np.zeros((0, 4)), np.zeros((0, 4)), [], [],
                        np.zeros((0, HEIGHT, WIDTH), np.uint8))


def test_table_marks_undefined_cells(tmp_path):
  lines = metrics_lib.table_rows({'M': _scenario(tmp_path).result()})
  assert len(lines) == 2 + 4
  assert lines[2].startswith('| M | all | 3 | 0.667 |')
  assert lines[5].startswith('| M | large | 0 | n/a | n/a |')
  assert lines[0].count('|') == lines[2].count('|')


def test_mask_iou_is_averaged_over_box_matched_pairs_only():
  # Four instances (areas: small, small, medium, small at COCO's edge 32^2,
  # which COCOeval puts in both small and medium); two are box-matched.
  areas = [100.0, 400.0, 2000.0, 1024.0]
  covered = [[True, True], [True, False], [False, False], [True, True]]
  matches = [(400.0, 0.3), (1024.0, 0.8)]
  coco = {f'{kind}_{metric}{size}': 0.0 for kind in ('box', 'mask')
          for metric in ('AP', 'AP50')
          for size in ('', '_BySize/0-32', '_BySize/32-96', '_BySize/96-inf')}
  table = metrics_lib.summarize(areas, covered, matches, coco)
  small, medium, every = table['small'], table['medium'], table['all']
  assert (every['instances'], small['instances'], medium['instances']) == (
      4, 3, 2)
  assert (every['box_matched'], small['box_matched'],
          medium['box_matched']) == (2, 2, 1)
  assert every['matched_mask_iou'] == pytest.approx(0.55)
  assert every['matched_mask_iou50'] == pytest.approx(0.5)
  assert small['matched_mask_iou50'] == pytest.approx(0.5)
  assert medium['matched_mask_iou'] == pytest.approx(0.8)
  assert medium['matched_mask_iou50'] == pytest.approx(1.0)
  assert small['proposal_recall50'] == pytest.approx(1.0)
  assert small['proposal_recall70'] == pytest.approx(2 / 3)
  assert medium['proposal_recall50'] == pytest.approx(0.5)
  assert every['proposal_recall70'] == pytest.approx(0.5)
