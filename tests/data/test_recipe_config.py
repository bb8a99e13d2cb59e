# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Configuration from training annotations: hand-made sets, NumPy answers."""

import json
import math
import os

import numpy as np
import pytest
import yaml

from mnc_tf.configs import experiment_params
from mnc_tf.data import inspect
from mnc_tf.data import recipe_config
from mnc_tf.data import recipe_schedule
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


def _budget(scale, max_size, seconds=720.0, ratio=1.0):
  """The step budget by hand: 10.3 ms + 0.394 us per padded pixel, x ratio."""
  steps = math.floor(
      seconds / (ratio * (0.0103 + 3.94e-7 * scale * max_size)) / 100)
  return int(min(10000, max(1000, 100 * steps)))


def test_written_yaml_by_hand_and_accepted_by_train(tmp_path):
  # 5 images of 200 x 200 with 3 squares each of 20 / 40 / 80 px.  The
  # default base is the demo's model, whose tiny backbone's stride is
  # chosen.  From two strides, stride 16's window is 32-123 px: no factor
  # fits both 20 and 80 px (4x > 3.84x), 67 % at best; stride 8's is 16-91
  # px (5.7x): factors 0.8 (scale 160: 16 .. 64) to 1.14 keep all three, so
  # stride 8.  Nearest 1: scale 192 (0.96)?  No: 208 is 1.04 (|log| 0.039)
  # against 0.96 (|log| 0.041): 208.
  path = _coco(str(tmp_path / 'train.json'), [(200, 200)] * 5,
               [[(0, 0, 20, 20), (50, 50, 40, 40), (100, 100, 80, 80)]] * 5,
               category=11, extra_categories=(3,))
  out = str(tmp_path / 'my_data.yaml')
  assert inspect.main(['inspect', '--annotations_file=' + path,
                       '--write_config=' + out,
                       '--train_input_path=t-*.tfrecord']) == 0
  text = open(out).read()
  leaves = [l for l in text.splitlines()
            if l.strip() and not l.startswith('#') and not l.endswith(':')]
  assert leaves and all('  # ' in l for l in leaves), leaves
  assert '--experiment=mnc_shapes_demo --config_file=' + out in text
  assert 'output_stride: 8  # the coarsest (cheapest) stride with >= 85 % ' \
      'of the training instances in its window from two strides' in text
  assert '(stride 16: 67 % at ' in text and ', 8: 100 % at 208 px)' in text
  assert '100 % of instances at 16-91 px' in text
  values = yaml.safe_load(text)
  task = values['task']
  assert task['model']['class_ids'] == [3, 11]
  assert task['train_data']['parser']['scale'] == 208
  assert task['validation_data']['parser']['scale'] == 208
  assert task['validation_data']['parser']['padded_size'] == [208, 208]
  assert task['train_data']['parser']['padded_size'] == []
  assert task['train_data']['parser']['oriented_padding'] is True
  assert task['train_data']['parser']['max_num_instances'] == 8
  assert task['train_data']['input_path'] == 't-*.tfrecord'
  sizes = np.array([20, 40, 80] * 5) * 1.04
  low, high = np.percentile(sizes, [1, 99])
  expected = [round(low, 1)]
  while expected[-1] * math.sqrt(2) < high:
    expected.append(round(expected[0] * 2 ** len(expected), 1))
  assert task['model']['anchors']['scales'] == expected
  assert task['model']['cascade']['test_horizontal_flip'] is False
  assert task['model']['cascade']['test_extra_scales'] == []
  # The demo's 32 proposals, twice at test at stride 8; pre-NMS 200 x 4.
  assert task['model']['proposal_generator']['num_proposals'] == 32
  assert task['model']['proposal_generator']['test_num_proposals'] == 64
  assert task['model']['proposal_generator']['pre_nms_top_k'] == 800
  # Steps fill 12 minutes at 208 x 208, stride 8 (720 s / (1.51 x 27.3 ms)
  # = 17437: the 10000 cap; the demo's 5000 steps drop the learning rate at
  # 4000: 80 %).
  steps = _budget(208, 208, ratio=recipe_schedule.STRIDE_8_RATIO)
  assert values['trainer']['train_steps'] == steps == 10000
  assert values['trainer']['validation_interval'] == steps
  rate = values['trainer']['optimizer_config']['learning_rate']
  assert rate['stepwise']['boundaries'] == [round(0.8 * steps)]
  assert not [n for n in os.listdir(str(tmp_path)) if 'tmp' in n]
  # train.py's parser takes it on top of the demo's experiment.
  params = experiment_params.parse(inspect.WRITE_CONFIG_EXPERIMENT, [out])
  assert params.task.train_data.parser.scale == 208
  assert list(params.task.model.anchors.scales) == expected
  assert params.trainer.train_steps == steps
  assert params.task.model.backbone.tiny.output_stride == 8


def test_step_budget_by_hand():
  # 512 x 640: 720 s / 139.4 ms = 5164 -> 5100; 416 x 448: 83.7 ms ->
  # 8500; 640 x 640: 171.7 ms -> 4100; small inputs (320 x 320: 50.6 ms)
  # hit the 10000 cap.
  for (scale, max_size), steps in (((512, 640), 5100), ((416, 448), 8500),
                                   ((640, 640), 4100), ((320, 320), 10000),
                                   ((64, 64), 10000)):
    assert recipe_schedule.budget_steps(scale, max_size) == steps
    assert _budget(scale, max_size) == steps
  # The point of the rule: about the same wall time at any input size.
  cost = recipe_schedule.DEMO_STEP_COST
  for scale, max_size in ((416, 448), (448, 512), (512, 640)):
    steps = recipe_schedule.budget_steps(scale, max_size)
    seconds = steps * cost.seconds(scale * max_size)
    assert 720 - 100 * cost.seconds(scale * max_size) < seconds <= 720
  assert recipe_schedule.budget_steps(256, 256, 960.0) == 10000
  assert recipe_schedule.budget_steps(256, 256, 240.0) == 6600
  with pytest.raises(ValueError, match='train_seconds'):
    recipe_schedule.budget_steps(256, 256, 0.0)


def test_schedule_moves_the_decay_with_the_steps():
  demo = inspect.experiment_params(inspect.WRITE_CONFIG_EXPERIMENT)
  settings = dict((k, v) for k, v, _ in recipe_schedule.schedule_settings(
      demo.trainer, 2500, 'r'))
  assert settings['trainer.train_steps'] == 2500
  # The demo drops the rate at 4000 of 5000 steps.
  assert settings[
      'trainer.optimizer_config.learning_rate.stepwise.boundaries'] == [2000]
  assert settings['trainer.checkpoint_interval'] == 600
  custom = _custom_params()
  settings = dict((k, v) for k, v, _ in recipe_schedule.schedule_settings(
      custom.trainer, 2500, 'r'))
  assert settings[
      'trainer.optimizer_config.learning_rate.cosine.decay_steps'] == 2500


def test_other_experiment_keeps_its_steps(tmp_path):
  path = _coco(str(tmp_path / 'train.json'), [(100, 100)] * 3,
               [[(0, 0, 10, 10), (20, 20, 40, 40)]] * 3)
  out = str(tmp_path / 'my_data.yaml')
  assert inspect.main(['inspect', '--annotations_file=' + path,
                       '--write_config=' + out,
                       '--experiment=' + inspect.CUSTOM_DATA_EXPERIMENT,
                       '--config_file=' + CUSTOM_YAML]) == 0
  values = yaml.safe_load(open(out).read())
  assert 'trainer' not in values
  # Stride 4 (receptive field 91): window 4-91 px.
  assert values['task']['train_data']['parser']['scale'] == 96
  assert values['task']['model']['proposal_generator'][
      'test_num_proposals'] == 300


def test_negative_train_minutes_is_one_clear_error(tmp_path, capsys):
  path = _coco(str(tmp_path / 'n.json'), [(100, 100)], [[(0, 0, 10, 10)]])
  out = str(tmp_path / 'x.yaml')
  assert inspect.main(['inspect', '--annotations_file=' + path,
                       '--write_config=' + out,
                       '--train_minutes=-1']) == 1
  assert '--train_minutes=-1 is negative' in capsys.readouterr().err
  assert not os.path.exists(out)
  assert inspect.main(['inspect', '--annotations_file=' + path,
                       '--write_config=' + out,
                       '--config_file=' + CUSTOM_YAML]) == 1
  assert '--config_file needs --experiment' in capsys.readouterr().err
  assert not os.path.exists(out)


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
  sees; the written config tests as it trains, at a data-chosen scale, on
  the demo's model at the stride written (123 or 91 px)."""
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
  params = experiment_params.parse(inspect.WRITE_CONFIG_EXPERIMENT, [out])
  # 123 px at the demo's stride 16, 91 px at 8 or 4 (the stride written).
  written_field = _FIELDS[params.task.model.backbone.tiny.output_stride]
  for parser in (params.task.train_data.parser,
                 params.task.validation_data.parser):
    assert _share_large_outside(dataset, parser, written_field) < 0.25
  report = inspect.analyze(dataset, recipe, suggest_changes=False)
  assert report['window']['receptive_field'] == field
  assert report['window']['test']['above'] > 2 * report['window']['train'][
      'above']


def test_too_coarse_a_map_is_a_warning(tmp_path, capsys):
  # 400 x 400 images, squares of 5, 5 and 50 px on the demo's stride-16
  # model (an --experiment given: no stride choice): the window is 16-123
  # px; the 5 px squares need x3.2 (1280 px, above the 640 cap), so at best
  # 1 of 3 instances fits (any factor 0.32-2.46 keeps the 50 px one;
  # nearest 1: 400).
  path = _coco(str(tmp_path / 'small.json'), [(400, 400)] * 2,
               [[(0, 0, 5, 5), (100, 100, 5, 5), (200, 200, 50, 50)]] * 2)
  out = str(tmp_path / 'small.yaml')
  assert inspect.main(['inspect', '--annotations_file=' + path,
                       '--write_config=' + out,
                       '--experiment=' + inspect.WRITE_CONFIG_EXPERIMENT]) == 0
  err = capsys.readouterr().err
  assert 'WARNING: only 33 % of instances fit the 16-123 px window' in err
  assert ('--experiment=mnc_shapes_demo --config_file=configs/experiments/'
          'mnc_custom_data.yaml' in err)
  assert yaml.safe_load(open(out).read())['task']['train_data']['parser'][
      'scale'] == 400
  # Half of them fitting is no warning.
  path = _coco(str(tmp_path / 'half.json'), [(400, 400)] * 2,
               [[(0, 0, 5, 5), (200, 200, 50, 50)]] * 2)
  assert inspect.main(['inspect', '--annotations_file=' + path,
                       '--write_config=' + out,
                       '--experiment=' + inspect.WRITE_CONFIG_EXPERIMENT]) == 0
  assert 'WARNING' not in capsys.readouterr().err
  # By default the stride is chosen: 1 px squares need x4 even at stride 4
  # (1600 px): no stride reaches the share, the finest is written and the
  # warning names it, with no other experiment to switch to.
  path = _coco(str(tmp_path / 'dots.json'), [(400, 400)] * 2,
               [[(0, 0, 1, 1), (100, 100, 1, 1), (200, 200, 50, 50)]] * 2)
  assert inspect.main(['inspect', '--annotations_file=' + path,
                       '--write_config=' + out]) == 0
  captured = capsys.readouterr()
  assert ('WARNING: only 33 % of instances fit the 4-91 px window of the '
          'finest map (stride 4)' in captured.err)
  assert 'mnc_custom_data' not in captured.err
  assert 'feature stride 4: no stride reaches' in captured.out
  assert yaml.safe_load(open(out).read())['task']['model']['backbone'][
      'tiny']['output_stride'] == 4


def test_small_instance_share_is_a_note(tmp_path, capsys):
  # The demo's stride-16 model (an --experiment given: no stride choice) on
  # 400 x 400 images, scale kept at 400 (factor 1): the note counts the
  # instances under two strides (32 px) at the written scale, from 20 %.
  def run(sides):
    path = _coco(str(tmp_path / 'set.json'), [(400, 400)] * 2,
                 [[(100 * i, 0, s, s) for i, s in enumerate(sides)]] * 2)
    out = str(tmp_path / 'set.yaml')
    assert inspect.main(['inspect', '--annotations_file=' + path,
                         '--write_config=' + out, '--experiment='
                         + inspect.WRITE_CONFIG_EXPERIMENT]) == 0
    assert yaml.safe_load(open(out).read())['task']['train_data'][
        'parser']['scale'] == 400
    return capsys.readouterr()
  note = ('note: %d %% of the training instances are smaller than two '
          'feature strides (32 px) at the written scale')
  assert note % 67 in run([5, 5, 50]).err
  captured = run([5, 40, 40, 50, 50])
  assert note % 20 in captured.err
  assert ('20 % of instances are smaller than two feature strides (32 px)'
          in captured.out)
  # 31 px is under two strides, 32 px is not.
  captured = run([32, 40, 40, 50, 50])
  assert 'note:' not in captured.err
  assert ('0 % of instances are smaller than two feature strides (32 px)'
          in captured.out)
  assert note % 20 in run([31, 40, 40, 50, 50]).err


# The RPN's receptive field of the demo's tiny backbone (px) per output
# stride (docs/custom_data_recipe.md); the window runs from one stride.
_FIELDS = {16: 123.0, 8: 91.0, 4: 91.0}


def _coverage_by_hand(sizes, image_side, stride, divisor=16, cap=640):
  """Best share of `sizes` (square images) in the stride's window, NumPy."""
  sizes = np.asarray(sizes, float)
  return max(np.mean((sizes * s / image_side >= stride)
                     & (sizes * s / image_side <= _FIELDS[stride]))
             for s in range(divisor, cap + 1, divisor))


def _stride_by_hand(sizes, image_side, share):
  for stride in (16, 8, 4):
    if _coverage_by_hand(sizes, image_side, stride) >= share:
      return stride
  return 4


def _squares_set(tmp_path, name, sides, image_side=400):
  """One `image_side` square image per square of `sides` px."""
  return inspect.load(_coco(str(tmp_path / name), [(image_side,) * 2]
                            * len(sides), [[(0, 0, s, s)] for s in sides]))


def test_stride_choice_by_hand(tmp_path):
  backbone = inspect.experiment_params(
      inspect.WRITE_CONFIG_EXPERIMENT).task.model.backbone
  share = recipe_config.STRIDE_SHARE
  cases = {
      # 400 px images.  6 px squares need x2.67 for stride 16 (1067 px,
      # above the cap) but x1.33 for stride 8: 8.
      'six': ([6.0] * 4, 8),
      # 3 px squares need x2.67 at stride 8, x1.33 at stride 4: 4.
      'three': ([3.0] * 4, 4),
      # 30-100 px squares fit 16-123 px at x1: 16.
      'large': ([30.0, 60.0, 100.0] * 2, 16),
  }
  for name, (sides, expected) in cases.items():
    dataset = _squares_set(tmp_path, name + '.json', sides)
    chosen, rows = recipe_config.choose_stride(
        dataset, backbone, 16, 640, strides=(4, 16, 8))
    assert chosen['stride'] == expected == _stride_by_hand(sides, 400, share)
    assert [r['stride'] for r in rows] == [16, 8, 4]
    for row in rows:
      assert row['receptive_field'] == _FIELDS[row['stride']]
      assert row['window'] == [row['stride'], _FIELDS[row['stride']]]
      assert row['coverage'] == pytest.approx(
          _coverage_by_hand(sides, 400, row['stride']))
  # No candidates: the experiment's stride, whatever the data.
  chosen, rows = recipe_config.choose_stride(
      _squares_set(tmp_path, 'six.json', [6.0] * 4), backbone, 16, 640)
  assert chosen['stride'] == 16 and len(rows) == 1
  with pytest.raises(recipe_config.ConfigError, match='not a multiple'):
    recipe_config.choose_stride(_squares_set(tmp_path, 'd.json', [6.0]),
                                backbone, 12, 640, strides=(16, 8))


def test_two_stride_window_by_hand(tmp_path):
  # 400 px images with squares of 12 and 40 px.  One stride: stride 16's
  # window 16-123 px holds both from x1.33 (scale 544): 16 as before.  Two
  # strides: stride 16's 32-123 px needs x2.67 for the 12 px squares (1067
  # px, above the 640 cap), so 50 %; stride 8's 16-91 px holds both at
  # x1.33-2.27: stride 8, at 544 px (x1.36, the tied scale nearest x1).
  backbone = inspect.experiment_params(
      inspect.WRITE_CONFIG_EXPERIMENT).task.model.backbone
  dataset = _squares_set(tmp_path, 'mid.json', [12.0, 40.0] * 4)
  chosen, rows = recipe_config.choose_stride(dataset, backbone, 16, 640,
                                             strides=(16, 8, 4))
  assert rows[0]['coverage'] == 1.0
  assert rows[0]['two_strides']['coverage'] == 0.5
  assert rows[1]['two_strides']['coverage'] == 1.0
  assert chosen['stride'] == 8 and chosen['from_two_strides']
  assert chosen['scale'] == 544 and chosen['window'] == [16.0, 91.0]
  # Stride 4 is never chosen from two strides, and without candidate
  # strides (a fixed backbone) the window starts at one stride.
  assert 'two_strides' not in rows[2]
  fixed, rows = recipe_config.choose_stride(dataset, backbone, 16, 640)
  assert fixed['stride'] == 16 and 'from_two_strides' not in fixed
  assert len(rows) == 1 and 'two_strides' not in rows[0]


def test_stride_share_boundary(tmp_path):
  # 20 instances in 400 px images: k squares of 50 px (in the stride-16
  # window at any factor 0.32-2.46) and 20 - k of 5 px (stride 16 needs
  # x3.2: 1280 px; stride 8 takes them at x1.6, with the 50 px ones at 80
  # px <= 91).  Stride-16 coverage k / 20: 16 exactly at the share, 8 one
  # instance below it.
  backbone = inspect.experiment_params(
      inspect.WRITE_CONFIG_EXPERIMENT).task.model.backbone
  share = recipe_config.STRIDE_SHARE
  at = int(math.ceil(share * 20 - 1e-9))
  for k, expected in ((at, 16), (at - 1, 8)):
    sides = [50.0] * k + [5.0] * (20 - k)
    dataset = _squares_set(tmp_path, 'k%d.json' % k, sides)
    chosen, rows = recipe_config.choose_stride(dataset, backbone, 16, 640,
                                               strides=(16, 8, 4))
    assert rows[0]['coverage'] == k / 20.0
    assert rows[1]['coverage'] == 1.0
    assert chosen['stride'] == expected == _stride_by_hand(sides, 400, share)
    # An explicit share moves the boundary with it.
    assert recipe_config.choose_stride(
        dataset, backbone, 16, 640, strides=(16, 8, 4),
        share=k / 20.0)[0]['stride'] == 16
    assert recipe_config.choose_stride(
        dataset, backbone, 16, 640, strides=(16, 8, 4),
        share=k / 20.0 + 0.01)[0]['stride'] == 8


def test_written_stride_moves_the_budget_and_proposals(tmp_path, capsys):
  # 400 px images with 6 px squares: stride 8 (see test_stride_choice_by_
  # hand).  Its window 8-91 px: scales 544-640 keep all; nearest x1: 544
  # (x1.36).
  path = _coco(str(tmp_path / 'tiny.json'), [(400, 400)] * 4,
               [[(0, 0, 6, 6), (100, 100, 6, 6)]] * 4)
  out = str(tmp_path / 'tiny.yaml')
  assert inspect.main(['inspect', '--annotations_file=' + path,
                       '--write_config=' + out]) == 0
  printed = capsys.readouterr().out
  assert ('feature stride 8: the coarsest (cheapest) stride with >= %.0f %%'
          % (100 * recipe_config.STRIDE_SHARE)) in printed
  assert '16: 0 %' in printed and '8: 100 % at 544 px' in printed
  text = open(out).read()
  values = yaml.safe_load(text)
  model = values['task']['model']
  assert model['backbone']['tiny']['output_stride'] == 8
  assert 'output_stride: 8  # the coarsest (cheapest) stride' in text
  assert values['task']['train_data']['parser']['scale'] == 544
  # Pre-NMS counts: the demo's 200 x (16 / 8)^2.
  assert model['proposal_generator']['pre_nms_top_k'] == 800
  assert model['proposal_generator']['test_pre_nms_top_k'] == 800
  # Proposals kept at test: twice the demo's 32 at stride 8; training keeps
  # 32.
  assert model['proposal_generator']['test_num_proposals'] == 64
  assert model['proposal_generator']['num_proposals'] == 32
  assert ('test_num_proposals: 64  # twice the experiment\'s 32 at stride 8'
          in text)
  assert model['anchors']['scales'][0] == round(6 * 544 / 400, 1)
  # The budget at the stride-8 step cost, by hand.
  steps = _budget(544, 544, ratio=recipe_schedule.STRIDE_8_RATIO)
  assert values['trainer']['train_steps'] == steps
  assert steps < recipe_schedule.budget_steps(544, 544)
  params = experiment_params.parse(inspect.WRITE_CONFIG_EXPERIMENT, [out])
  assert params.task.model.backbone.tiny.output_stride == 8
  assert params.task.model.proposal_generator.pre_nms_top_k == 800


def test_proposals_at_test_double_at_a_finer_stride_by_hand():
  # (experiment's count, experiment stride, written stride, max instances)
  cases = {(32, 16, 16, 8): 32, (32, 16, 8, 8): 64, (32, 16, 4, 8): 64,
           (32, 16, 4, 30): 64, (32, 16, 4, 45): 90, (32, 16, 16, 45): 90,
           (300, 4, 4, 8): 300, (32, 8, 8, 8): 32, (32, 8, 4, 8): 64}
  for args, expected in cases.items():
    assert recipe_config.proposals_at_test(*args) == expected, args


def test_costlier_stride_gets_fewer_steps():
  costs = recipe_schedule.DEMO_STEP_COSTS
  assert sorted(costs) == [4, 8, 16]
  for scale, max_size in ((256, 256), (416, 448), (640, 640)):
    pixels = scale * max_size
    assert (costs[4].seconds(pixels) > costs[8].seconds(pixels)
            > costs[16].seconds(pixels))
    steps = [recipe_schedule.budget_steps(scale, max_size, 480.0, costs[s])
             for s in (16, 8, 4)]
    assert steps[0] >= steps[1] >= steps[2] and steps[0] > steps[2]
    for stride, ratio in ((8, recipe_schedule.STRIDE_8_RATIO),
                          (4, recipe_schedule.STRIDE_4_RATIO)):
      expected = _budget(scale, max_size, 480.0, ratio)
      assert recipe_schedule.budget_steps(scale, max_size, 480.0,
                                          costs[stride]) == expected


def _family_dataset(tmp_path, family):
  from tools import robustness  # pylint: disable=g-import-not-at-top
  data = synthetic_shapes.generate(str(tmp_path / family), num_train=24,
                                   num_val=0, seed=0,
                                   **robustness.FAMILIES[family])
  return inspect.load(data['train'])


def test_large_set_keeps_stride_16(tmp_path):
  """The stride choice leaves a set that fits stride 16 from two strides as
  it was: the same settings as without a choice, plus output_stride 16."""
  dataset = _family_dataset(tmp_path, 'large')
  params = inspect.experiment_params(inspect.WRITE_CONFIG_EXPERIMENT)
  costs = recipe_schedule.DEMO_STEP_COSTS
  chosen, _ = recipe_config.derive(dataset, params, train_seconds=480.0,
                                   step_costs=costs, strides=sorted(costs))
  fixed, _ = recipe_config.derive(dataset, params, train_seconds=480.0,
                                  step_costs=costs)
  chosen = [(k, v) for k, v, _ in chosen]
  assert ('task.model.backbone.tiny.output_stride', 16) in chosen
  assert [kv for kv in chosen if 'output_stride' not in kv[0]] == [
      (k, v) for k, v, _ in fixed]


def test_elongated_set_moves_to_stride_8_from_two_strides(tmp_path):
  """The `elongated` family fits stride 16's window from one stride, not
  from two (too many instances under two stride-16 cells); stride 8's
  window from two strides holds them."""
  dataset = _family_dataset(tmp_path, 'elongated')
  backbone = inspect.experiment_params(
      inspect.WRITE_CONFIG_EXPERIMENT).task.model.backbone
  chosen, rows = recipe_config.choose_stride(dataset, backbone, 16, 640,
                                             strides=(16, 8, 4))
  assert chosen['stride'] == 8 and chosen['from_two_strides']
  assert chosen['window'] == [16.0, _FIELDS[8]]
  assert rows[0]['two_strides']['coverage'] < recipe_config.STRIDE_SHARE
  assert rows[0]['coverage'] >= recipe_config.STRIDE_SHARE
  assert chosen['coverage'] == rows[1]['two_strides']['coverage'] >= (
      recipe_config.STRIDE_SHARE)
  assert 'two_strides' not in rows[2]
