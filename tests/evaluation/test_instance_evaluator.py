# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the COCO + SDS evaluator on the hand-analysed scenario."""
import json

import numpy as np
import pytest

from mnc_tf.evaluation import batch_conversion
from mnc_tf.evaluation import instance_evaluator
import sds_scenario


def _annotation_file(tmp_path):
  path = tmp_path / 'val.json'
  path.write_text(json.dumps(sds_scenario.coco_annotation_dict()))
  return str(path)


def _add_scenario_detections(evaluator):
  for image_id in sds_scenario.GT:
    rows = [d for d in sds_scenario.DETS if d[0] == image_id]
    evaluator.add_detections(
        image_id,
        boxes=[[0, d[3], sds_scenario.HEIGHT, d[4]] for d in rows],
        classes=[d[1] for d in rows], scores=[d[2] for d in rows],
        masks=np.stack([sds_scenario.strip(d[3], d[4]) for d in rows]))


def _check_scenario_metrics(metrics):
  assert metrics['mAPr50'] == pytest.approx(
      sds_scenario.EXPECTED['mAPr50_07'])
  assert metrics['mAPr70'] == pytest.approx(
      sds_scenario.EXPECTED['mAPr70_07'])
  assert metrics['mask_AP50'] == pytest.approx(
      sds_scenario.EXPECTED['mask_AP50'])
  assert metrics['box_AP50'] == pytest.approx(
      sds_scenario.EXPECTED['box_AP50'])
  for prefix in ('box_', 'mask_'):
    for name in instance_evaluator.COCO_METRIC_NAMES:
      assert prefix + name in metrics


def test_with_annotation_file(tmp_path):
  evaluator = instance_evaluator.InstanceSegmentationEvaluator(
      annotation_file=_annotation_file(tmp_path))
  _add_scenario_detections(evaluator)
  _check_scenario_metrics(evaluator.result())
  with pytest.raises(ValueError, match='No detections'):
    evaluator.result()  # result() reset the state.


def test_groundtruth_added_by_hand_gives_the_same_numbers():
  evaluator = instance_evaluator.InstanceSegmentationEvaluator()
  for image_id, instances in sds_scenario.GT.items():
    evaluator.add_groundtruth(
        image_id, sds_scenario.HEIGHT, sds_scenario.WIDTH,
        [c for c, _, _ in instances],
        np.stack([sds_scenario.strip(x0, x1) for _, x0, x1 in instances]))
  _add_scenario_detections(evaluator)
  _check_scenario_metrics(evaluator.evaluate())


def test_image_without_detections_counts_towards_recall(tmp_path):
  evaluator = instance_evaluator.InstanceSegmentationEvaluator(
      annotation_file=_annotation_file(tmp_path))
  # Only image 1's detections; image 2 is seen but has none.
  rows = [d for d in sds_scenario.DETS if d[0] == 1]
  evaluator.add_detections(
      1, [[0, d[3], 4, d[4]] for d in rows], [d[1] for d in rows],
      [d[2] for d in rows], np.stack([sds_scenario.strip(d[3], d[4])
                                      for d in rows]))
  evaluator.add_detections(2, np.zeros((0, 4)), [], [],
                           np.zeros((0, 4, 100), np.uint8))
  metrics = evaluator.evaluate()
  # Class 1 @ .5: d1 TP, d2 FP, d4 TP of 3 positives: recall 1/3 1/3 2/3,
  # precision 1 .5 .667 -> 11-point (4 * 1 + 3 * 2/3) / 11.
  assert metrics['mAPr50'] == pytest.approx((4 + 2.0) / 11.0)


def _network_labels(scale=2, pad=(16, 208)):
  """The scenario's labels as the Task sees them: images scaled x2, padded."""
  hp, wp = pad
  image_info = np.array([[sds_scenario.HEIGHT, sds_scenario.WIDTH],
                         [sds_scenario.HEIGHT * scale,
                          sds_scenario.WIDTH * scale],
                         [scale, scale], [0, 0]], np.float32)

  def up(mask):
    out = np.zeros((hp, wp), np.uint8)
    out[:mask.shape[0] * scale, :mask.shape[1] * scale] = np.kron(
        mask, np.ones((scale, scale), np.uint8))
    return out

  gts = {}
  image_ids = list(sds_scenario.GT)
  m = 3
  gts['source_id'] = np.array(image_ids)
  gts['image_info'] = np.stack([image_info] * 2)
  gts['gt_num_instances'] = np.array(
      [len(sds_scenario.GT[i]) for i in image_ids])
  gts['gt_classes'] = np.full((2, m), -1, np.int32)
  gts['gt_masks'] = np.zeros((2, m, hp, wp), np.uint8)
  for b, image_id in enumerate(image_ids):
    for k, (cls, x0, x1) in enumerate(sds_scenario.GT[image_id]):
      gts['gt_classes'][b, k] = cls
      gts['gt_masks'][b, k] = up(sds_scenario.strip(x0, x1))
  return gts


def _add_label_groundtruth(evaluator, labels):
  """What the Task's aggregate_logs does with the labels of a batch."""
  for gt in batch_conversion.image_groundtruths(labels):
    evaluator.add_groundtruth(gt['image_id'], gt['height'], gt['width'],
                              gt['classes'], gt['masks'], gt['is_crowd'])


def test_label_groundtruth_from_network_input_masks():
  gts = _network_labels()
  # Two replicas, one image each (what strategy.experimental_local_results
  # gives the Task); to_numpy joins them.
  split = {k: (v[:1], v[1:]) for k, v in gts.items()}
  labels = {k: batch_conversion.to_numpy(v) for k, v in split.items()}
  evaluator = instance_evaluator.InstanceSegmentationEvaluator()
  _add_label_groundtruth(evaluator, labels)
  _add_scenario_detections(evaluator)
  _check_scenario_metrics(evaluator.result())


def test_bad_inputs_are_reported(tmp_path):
  evaluator = instance_evaluator.InstanceSegmentationEvaluator(
      annotation_file=_annotation_file(tmp_path))
  with pytest.raises(ValueError, match='not in the annotation file'):
    evaluator.add_detections(7, [[0, 0, 1, 1]], [1], [0.5],
                             np.ones((1, 4, 100), np.uint8))
  with pytest.raises(ValueError, match='masks are'):
    evaluator.add_detections(1, [[0, 0, 1, 1]], [1], [0.5],
                             np.ones((1, 5, 100), np.uint8))
  with pytest.raises(ValueError, match='disagree in length'):
    evaluator.add_detections(1, [[0, 0, 1, 1]], [1, 1], [0.5],
                             np.ones((1, 4, 100), np.uint8))
  with pytest.raises(ValueError, match='lack'):
    next(batch_conversion.image_groundtruths({'source_id': np.array([1])}))


def test_label_groundtruth_prefers_original_png_masks():
  """The parser's `groundtruths` PNGs are used exactly; gt_masks ignored."""
  import io
  from PIL import Image
  gts = _network_labels()
  gts['gt_masks'][:] = 0  # Would give zero-area ground truth if used.
  pngs = np.full((2, 3), b'', dtype=object)
  for b, image_id in enumerate(sds_scenario.GT):
    for k, (_, x0, x1) in enumerate(sds_scenario.GT[image_id]):
      buffer = io.BytesIO()
      Image.fromarray(sds_scenario.strip(x0, x1) * 255).save(buffer, 'PNG')
      pngs[b, k] = buffer.getvalue()
  gts['groundtruths'] = {
      'source_id': gts['source_id'],
      'height': np.array([sds_scenario.HEIGHT] * 2),
      'width': np.array([sds_scenario.WIDTH] * 2),
      'num_detections': gts['gt_num_instances'],
      'classes': gts['gt_classes'], 'is_crowds': np.zeros((2, 3), np.int32),
      'masks': pngs}
  evaluator = instance_evaluator.InstanceSegmentationEvaluator()
  _add_label_groundtruth(evaluator, gts)
  _add_scenario_detections(evaluator)
  _check_scenario_metrics(evaluator.result())


def _square(size, y, x, height=64, width=64):
  mask = np.zeros((height, width), np.uint8)
  mask[y:y + size, x:x + size] = 1
  return mask


def _size_scenario(evaluator):
  """One 6-px and one 30-px square (class 1); detections: a false 30-px
  square scoring 0.95, the 30-px one shifted 6 px (IoU 720 / 1080 = 2/3)
  at 0.9, nothing on the 6-px one."""
  evaluator.add_groundtruth(1, 64, 64, [1, 1],
                            np.stack([_square(6, 2, 2), _square(30, 20, 20)]))
  evaluator.add_detections(
      1, boxes=[[30, 0, 60, 30], [20, 26, 50, 56]], classes=[1, 1],
      scores=[0.95, 0.9],
      masks=np.stack([_square(30, 30, 0), _square(30, 20, 26)]))


def test_size_bins_report_ap_and_recall_per_size():
  evaluator = instance_evaluator.InstanceSegmentationEvaluator(
      size_bins=[10])
  _size_scenario(evaluator)
  metrics = evaluator.evaluate()
  for prefix in ('box_', 'mask_'):
    # 0-10: the 6-px square is never found.
    assert metrics[prefix + 'R50_BySize/0-10'] == 0.0
    assert metrics[prefix + 'AP50_BySize/0-10'] == 0.0
    # 10-inf: FP (0.95) then TP (0.9): recall 1 at precision 1/2, so the
    # interpolated precision is 1/2 at every recall point; a TP only at the
    # IoU thresholds 0.5-0.65 (4 of 10) for AP.
    assert metrics[prefix + 'R50_BySize/10-inf'] == 1.0
    assert metrics[prefix + 'AP50_BySize/10-inf'] == pytest.approx(0.5)
    assert metrics[prefix + 'AP_BySize/10-inf'] == pytest.approx(0.2)
  # COCO's own numbers do not move with the extra ranges: over both squares
  # recall 1/2, precisions 0 then 1/2 -> 101-point AP50 51 * 0.5 / 101.
  plain = instance_evaluator.InstanceSegmentationEvaluator()
  _size_scenario(plain)
  reference = plain.evaluate()
  assert not any('BySize' in k for k in reference)
  assert metrics['mask_AP50'] == pytest.approx(51 * 0.5 / 101)
  for key, value in reference.items():
    assert metrics[key] == pytest.approx(value), key


def test_size_bin_ranges_and_bad_bins():
  assert instance_evaluator.size_bin_ranges([10, 20]) == [
      ('0-10', [0.0, 100.0]), ('10-20', [100.0, 400.0]),
      ('20-inf', [400.0, 1e10])]
  assert instance_evaluator.size_bin_ranges([]) == []
  for bad in ([20, 10], [0, 10], [10, 10]):
    with pytest.raises(ValueError, match='size_bins'):
      instance_evaluator.InstanceSegmentationEvaluator(size_bins=bad)
