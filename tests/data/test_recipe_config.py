# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Configuration from training annotations: hand-made sets, NumPy answers."""

import json
import math
import os

import numpy as np
import yaml

from mnc_tf.configs import experiment_params
from mnc_tf.data import inspect
from mnc_tf.data import recipe_config
from mnc_tf.data import synthetic_shapes

CUSTOM_YAML = inspect.CUSTOM_DATA_YAML


def _coco(path, images, boxes_per_image, category=5, extra_categories=()):
  """images: [(h, w)]; boxes_per_image: [[(x, y, w, h), ...]]."""
  data = {'images': [], 'annotations': [],
          'categories': [{'id': category, 'name': 'thing'}]
                        + [{'id': c, 'name': 'c%d' % c}
                           for c in extra_categories]}
  for index, ((h, w), boxes) in enumerate(zip(images, boxes_per_image)):
    data['images'].append({'id': index + 1, 'height': h, 'width': w,
                           'file_name': '%d.jpg' % index})
    for box in boxes:
      data['annotations'].append({
          'id': len(data['annotations']) + 1, 'image_id': index + 1,
          'category_id': category, 'iscrowd': 0, 'bbox': list(box)})
  with open(path, 'w') as f:
    json.dump(data, f)
  return path


def _custom_params():
  return inspect.experiment_params(inspect.CUSTOM_DATA_EXPERIMENT,
                                   [CUSTOM_YAML])


def test_scale_by_hand(tmp_path):
  # 100 x 100 images, squares of 10 / 20 / 40 / 80 px; window 8-91 px.
  # Scale 96 (x0.96: 9.6 .. 76.8) keeps all four, 128 (x1.28: 102 > 91) and
  # 64 (6.4 < 8) lose one: 96.
  dataset = inspect.load(_coco(str(tmp_path / 'a.json'), [(100, 100)] * 4,
                               [[(0, 0, s, s)] for s in (10, 20, 40, 80)]))
  choice = recipe_config.choose_scale(dataset, 32, (8.0, 91.0), 640)
  assert choice['scale'] == 96 and choice['max_size'] == 96
  assert choice['coverage'] == 1.0 and choice['factor_median'] == 0.96
  # Squares of 40 / 160 px in 200 x 400 images: the best coverage (both
  # in 8-91 px) needs 160 * f <= 91 and 40 * f >= 8: f in [0.2, 0.57];
  # scales 64 (f 0.32) and 96 (f 0.48); 96 is nearer 1.  max_size keeps the
  # 1:2 aspect: 192.
  dataset = inspect.load(_coco(str(tmp_path / 'b.json'), [(200, 400)] * 2,
                               [[(0, 0, 40, 40)], [(0, 0, 160, 160)]]))
  choice = recipe_config.choose_scale(dataset, 32, (8.0, 91.0), 640)
  assert (choice['scale'], choice['max_size']) == (96, 192)
  # 10 px squares in 100 x 100 images, divisor 16: every scale from 80
  # (x0.8: 8 px) to 640 keeps them all; the nearest to x1 is 96, not the
  # smallest (80) or the largest.
  dataset = inspect.load(_coco(str(tmp_path / 'c.json'), [(100, 100)] * 3,
                               [[(0, 0, 10, 10)]] * 3))
  choice = recipe_config.choose_scale(dataset, 16, (8.0, 91.0), 640)
  assert (choice['scale'], choice['coverage']) == (96, 1.0)
  # Brute force over the same candidates with NumPy, a second opinion.
  sizes = np.array([40.0, 160.0])
  best = max(
      (np.mean((sizes * s / 200 >= 8) & (sizes * s / 200 <= 91)),
       -abs(math.log(s / 200)), -s) for s in range(32, 641, 32))
  assert -best[2] == choice['scale']


def test_anchor_scales_and_ratios_by_hand():
  sizes = np.linspace(10.0, 200.0, 1000)
  low, high = np.percentile(sizes, [1, 99])
  scales = recipe_config.choose_anchor_scales(sizes)
  assert scales[0] == round(low, 1)
  assert scales[-1] * math.sqrt(2) >= high > scales[-2] * math.sqrt(2)
  assert all(abs(b / a - 2) < 0.02 for a, b in zip(scales, scales[1:]))
  square = np.array([[0, 0, 10, 10]] * 20, float)
  assert recipe_config.choose_aspect_ratios(square) == [0.5, 1.0, 2.0]
  # 2 of 20 boxes (10 %) are 4x wider than tall; 1 of 20 (5 %) 4x taller.
  boxes = np.concatenate([square[:17], [[0, 0, 10, 40]] * 2,
                          [[0, 0, 40, 10]]])
  assert recipe_config.choose_aspect_ratios(boxes) == [0.5, 1.0, 2.0, 4.0]


def test_written_yaml_by_hand_and_accepted_by_train(tmp_path):
  # 5 images of 100 x 100 with 3 squares each of 10 / 20 / 40 px: window
  # 8-91 px (stride 4, receptive field 91); scales 96 .. 224 keep all (x2.24:
  # 89.6 px); nearest factor 1: 96 (0.96) ... 128 (1.28): 96.
  path = _coco(str(tmp_path / 'train.json'), [(100, 100)] * 5,
               [[(0, 0, 10, 10), (20, 20, 20, 20), (50, 50, 40, 40)]] * 5,
               category=11, extra_categories=(3,))
  out = str(tmp_path / 'my_data.yaml')
  assert inspect.main(['inspect', '--annotations_file=' + path,
                       '--write_config=' + out,
                       '--train_input_path=t-*.tfrecord']) == 0
  text = open(out).read()
  leaves = [l for l in text.splitlines()
            if l.strip() and not l.startswith('#') and not l.endswith(':')]
  assert leaves and all('  # ' in l for l in leaves), leaves
  values = yaml.safe_load(text)['task']
  assert values['model']['class_ids'] == [3, 11]
  assert values['train_data']['parser']['scale'] == 96
  assert values['validation_data']['parser']['scale'] == 96
  assert values['validation_data']['parser']['padded_size'] == [96, 96]
  assert values['train_data']['parser']['max_num_instances'] == 8
  assert values['train_data']['input_path'] == 't-*.tfrecord'
  sizes = np.array([10, 20, 40] * 5) * 0.96
  low, high = np.percentile(sizes, [1, 99])
  expected = [round(low, 1)]
  while expected[-1] * math.sqrt(2) < high:
    expected.append(round(expected[0] * 2 ** len(expected), 1))
  assert values['model']['anchors']['scales'] == expected
  assert values['model']['cascade']['test_horizontal_flip'] is False
  assert values['model']['cascade']['test_extra_scales'] == []
  assert not [n for n in os.listdir(str(tmp_path)) if 'tmp' in n]
  # train.py's parser takes it on top of the custom-data experiment.
  params = experiment_params.parse(inspect.CUSTOM_DATA_EXPERIMENT,
                                   [CUSTOM_YAML, out])
  assert params.task.train_data.parser.scale == 96
  assert list(params.task.model.anchors.scales) == expected


def test_no_instances_is_one_clear_error(tmp_path, capsys):
  path = _coco(str(tmp_path / 'e.json'), [(100, 100)], [[]])
  out = str(tmp_path / 'x.yaml')
  assert inspect.main(['inspect', '--annotations_file=' + path,
                       '--write_config=' + out]) == 1
  assert 'no non-crowd instance' in capsys.readouterr().err
  assert not os.path.exists(out)


def _share_large_outside(dataset, parser, field, original_min=40.0):
  """Share of the instances >= `original_min` px (original) past `field`."""
  original = _original_sizes(dataset)
  sizes = recipe_config.resized_sizes(dataset, parser.scale, parser.max_size)
  large = original >= original_min
  return float(np.mean(sizes[large] > field))


def _original_sizes(dataset):
  boxes, _ = recipe_config.instance_boxes(dataset)
  return np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))


def test_large_instances_stay_inside_the_receptive_field(tmp_path):
  """The miss on small images with large instances: the recipe's fixed test
  scale (448 shorter side, 1.4x its training scale) blows 180-340 px images
  up 1.3-2.5x, pushing most instances of 40-75 px past the 91 px the RPN
  sees; the written config tests as it trains, at a data-chosen scale."""
  data = synthetic_shapes.generate(str(tmp_path / 'mixed'), num_train=60,
                                   num_val=0, seed=1,
                                   **synthetic_shapes.PRESETS['mixed'])
  dataset = inspect.load(data['train'])
  recipe = _custom_params()
  field = 91.0
  assert _share_large_outside(
      dataset, recipe.task.validation_data.parser, field) > 0.5
  out = str(tmp_path / 'mixed.yaml')
  assert inspect.main(['inspect', '--annotations_file=' + data['train'],
                       '--write_config=' + out]) == 0
  params = experiment_params.parse(inspect.CUSTOM_DATA_EXPERIMENT,
                                   [CUSTOM_YAML, out])
  for parser in (params.task.train_data.parser,
                 params.task.validation_data.parser):
    assert _share_large_outside(dataset, parser, field) < 0.25
  report = inspect.analyze(dataset, recipe, suggest_changes=False)
  assert report['window']['receptive_field'] == field
  assert report['window']['test']['above'] > 2 * report['window']['train'][
      'above']
