# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The data inspector: counts by hand, anchor IoUs against NumPy."""

import json
import math
import os

import numpy as np

from mnc_tf.data import create_coco_tfrecord
from mnc_tf.data import inspect
from mnc_tf.data import synthetic_shapes


def _write_coco(path):
  """Two images; boxes (x, y, w, h); one crowd instance."""
  data = {
      'images': [{'id': 11, 'height': 100, 'width': 200, 'file_name': 'a'},
                 {'id': 12, 'height': 50, 'width': 50, 'file_name': 'b'}],
      'annotations': [
          {'id': 1, 'image_id': 11, 'category_id': 3, 'iscrowd': 0,
           'bbox': [10, 20, 30, 40]},
          {'id': 2, 'image_id': 11, 'category_id': 7, 'iscrowd': 1,
           'bbox': [0, 0, 100, 50]},
          {'id': 3, 'image_id': 12, 'category_id': 3, 'iscrowd': 0,
           'bbox': [5, 5, 10, 10]},
          {'id': 4, 'image_id': 12, 'category_id': 9, 'iscrowd': 0,
           'bbox': [20, 20, 4, 9]}],
      'categories': [{'id': 3, 'name': 'c'}, {'id': 7, 'name': 'g'},
                     {'id': 9, 'name': 'i'}]}
  with open(path, 'w') as f:
    json.dump(data, f)
  return path


def _params(scale=192, max_size=256, class_ids=(1, 2, 4)):
  return inspect.experiment_params(
      'mnc_shapes_demo', params_override={'task': {
          'model': {'class_ids': list(class_ids)},
          'train_data': {'parser': {'scale': scale, 'max_size': max_size}}}})


def test_counts_ids_and_resize_by_hand(tmp_path):
  dataset = inspect.load(_write_coco(str(tmp_path / 'a.json')))
  report = inspect.analyze(dataset, _params(), suggest_changes=False)
  assert report['images'] == 2 and report['instances'] == 3
  assert report['crowd_instances'] == 1
  assert report['instances_per_image']['max'] == 2
  assert report['per_class'] == {
      '3': {'name': 'c', 'instances': 2, 'crowd': 0},
      '7': {'name': 'g', 'instances': 0, 'crowd': 1},
      '9': {'name': 'i', 'instances': 1, 'crowd': 0}}
  assert report['id_gaps'] == [4, 5, 6, 8]
  assert report['ids_not_in_config'] == [3, 7, 9]
  assert report['config_ids_not_in_data'] == [1, 2, 4]
  # 100 x 200 -> min(192/100, 256/200) = 1.28; 50 x 50 -> 192/50 = 3.84.
  assert report['resize']['factor_min'] == 1.28
  assert abs(report['resize']['factor_max'] - 3.84) < 1e-12
  sizes = sorted([np.sqrt(30 * 40) * 1.28, 10 * 3.84,
                  np.sqrt(4 * 9) * 3.84])
  assert abs(report['instance_size']['percentiles']['50'] - sizes[1]) < 1e-9
  # 6 * 3.84 = 23.0 px and 38.4 px and 44.3 px: none below the stride.
  assert report['instance_size']['below_stride'] == 0.0
  text = inspect.format_report(report)
  assert 'ERROR: ids [3, 7, 9]' in text and 'gaps [4, 5, 6, 8]' in text


def _numpy_anchors(height, width, stride, scales, ratios):
  """Independent reference: centres at (i + 0.5) * stride, w/h = ratio."""
  out = []
  for i in range(-(-height // stride)):
    for j in range(-(-width // stride)):
      cy, cx = (i + 0.5) * stride, (j + 0.5) * stride
      for s in scales:
        for r in ratios:
          h, w = s / np.sqrt(r), s * np.sqrt(r)
          out.append((cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2))
  return np.array(out)


def _numpy_iou(a, b):
  y0 = np.maximum(a[:, None, 0], b[None, :, 0])
  x0 = np.maximum(a[:, None, 1], b[None, :, 1])
  y1 = np.minimum(a[:, None, 2], b[None, :, 2])
  x1 = np.minimum(a[:, None, 3], b[None, :, 3])
  inter = np.clip(y1 - y0, 0, None) * np.clip(x1 - x0, 0, None)
  area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])
  return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def test_best_anchor_iou_against_numpy():
  # By hand: a 16 x 16 box on an anchor centre (8, 8) vs 8 px to the right
  # of it (halfway between two centres): IoU 1 and 128 / 384.
  anchors = inspect.model_anchors([64, 64], 16, [16.0], [1.0])
  best = inspect.best_anchor_ious(
      np.array([[0.0, 0, 16, 16], [0, 8, 16, 24]]), anchors)
  np.testing.assert_allclose(best, [1.0, 1.0 / 3], atol=1e-6)

  rng = np.random.default_rng(0)
  centre = rng.uniform(0, 256, size=(300, 2))
  extent = np.exp(rng.uniform(np.log(3), np.log(90), size=(300, 2)))
  boxes = np.concatenate([centre - extent / 2, centre + extent / 2], axis=1)
  scales, ratios = [16.0, 32.0, 64.0], [0.5, 1.0, 2.0]
  reference = _numpy_iou(boxes, _numpy_anchors(256, 256, 16, scales,
                                               ratios)).max(axis=1)
  anchors = inspect.model_anchors([256, 256], 16, scales, ratios)
  np.testing.assert_allclose(inspect.best_anchor_ious(boxes, anchors, 64),
                             reference, atol=1e-5)
  coverage = inspect.anchor_coverage(boxes, [256, 256], 16, scales, ratios,
                                     0.7, 0.3)
  assert coverage['below_fg'] == np.mean(reference < 0.7)
  assert coverage['below_bg'] == np.mean(reference < 0.3)
  assert 0.2 < coverage['below_fg'] < 1.0  # The sample spans both cases.


def test_report_on_synthetic_set_and_suggestion(tmp_path):
  out = str(tmp_path / 's')
  paths = synthetic_shapes.generate(out, num_train=12, num_val=0, seed=2,
                                    **synthetic_shapes.PRESETS['hard'])
  dataset = inspect.load(paths['train'])
  params = _params(class_ids=(1, 2, 4, 7, 10))
  report = inspect.analyze(dataset, params, num_anchor_scales=3)
  assert not report['ids_not_in_config'] and report['id_gaps'] == [
      3, 5, 6, 8, 9]
  boxes = np.concatenate([
      b * np.tile(s, 2) for b, s in zip(
          dataset.boxes, inspect.resize_scales(dataset.sizes, 192, 256))])
  reference = _numpy_iou(boxes, _numpy_anchors(
      256, 256, 16, [24.0, 48.0], [0.5, 1.0, 2.0])).max(axis=1)
  assert report['anchor_coverage']['below_fg'] == np.mean(reference < 0.7)
  sug = report['suggestion']
  # Small objects: the 10th percentile is under the stride, so the image
  # scale grows (capped at 2x) and the smallest anchors shrink.
  assert report['instance_size']['percentiles']['10'] < 16
  assert sug['factor'] > 1.0 and sug['scale'] > 192
  assert sug['anchor_scales'][0] < 24.0 and len(sug['anchor_scales']) == 3
  assert (sug['coverage']['mean_best_iou']
          > report['anchor_coverage']['mean_best_iou'])
  # The demo tests at its training scale: the suggested test scale is the
  # suggested training scale.
  assert (sug['validation_scale'], sug['validation_max_size']) == (
      sug['scale'], sug['max_size'])


def test_suggestion_keeps_the_test_to_train_scale_ratio(tmp_path):
  out = str(tmp_path / 's')
  paths = synthetic_shapes.generate(out, num_train=6, num_val=0, seed=2,
                                    **synthetic_shapes.PRESETS['hard'])
  params = _params(class_ids=(1, 2, 4, 7, 10))
  params.override({'task': {'validation_data': {'parser': {
      'scale': 288, 'max_size': 384}}}})  # 1.5x the training 192 / 256.
  report = inspect.analyze(inspect.load(paths['train']), params,
                           num_anchor_scales=3)
  sug = report['suggestion']
  assert sug['scale'] > 192
  assert sug['validation_scale'] == math.ceil(sug['scale'] * 1.5 / 32) * 32
  assert sug['validation_max_size'] == (
      math.ceil(sug['max_size'] * 1.5 / 32) * 32)
  text = inspect.format_report(report)
  assert 'task.validation_data.parser.scale=%d,' % sug['validation_scale'] in (
      text)


def test_tfrecords_match_json_and_cli(tmp_path, capsys):
  out = str(tmp_path / 's')
  paths = synthetic_shapes.generate(out, num_train=3, num_val=0, seed=5)
  prefix = str(tmp_path / 'rec' / 'train')
  create_coco_tfrecord.convert(os.path.join(out, 'train'), paths['train'],
                               prefix, num_shards=1)
  from_json = inspect.load(paths['train'])
  from_records = inspect.load(prefix + '-*.tfrecord')
  np.testing.assert_array_equal(from_json.sizes, from_records.sizes)
  for a, b in zip(from_json.boxes, from_records.boxes):
    np.testing.assert_allclose(a, b, atol=1e-3)
  assert [list(c) for c in from_json.classes] == [
      list(c) for c in from_records.classes]
  assert from_records.names == {
      k: v for k, v in from_json.names.items()
      if k in {int(c) for c in np.concatenate(from_json.classes)}}

  capsys.readouterr()
  assert inspect.main(['inspect', '--annotations_file', paths['train'],
                       '--experiment=mnc_shapes_demo', '--json']) == 0
  report = json.loads(capsys.readouterr().out)
  assert report['images'] == 3
  assert inspect.main(['inspect', '--annotations_file',
                       str(tmp_path / 'missing.json'),
                       '--experiment=mnc_shapes_demo']) == 1
  assert 'missing.json' in capsys.readouterr().err
  assert inspect.main(['inspect', '--annotations_file', paths['train'],
                       '--experiment=no_such_thing']) == 1
  assert 'no_such_thing' in capsys.readouterr().err
