# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The robustness suite: families that differ; one family end to end."""

import json
import os

import pytest

from tools import robustness
from mnc_tf.data import synthetic_shapes


def test_families_differ_from_each_other_and_the_demo():
  families = robustness.FAMILIES
  assert len(families) >= 4
  demo = dict(min_side=128, max_side=256, max_instances=5)
  keys = []
  for name, options in families.items():
    key = (options['min_side'], options['max_side'],
           tuple(options['object_px']), options['max_instances'],
           tuple(c['id'] for c in options['categories']))
    keys.append(key)
    assert options.get('object_px') is not None, name  # demo: relative
    assert (options['min_side'], options['max_side'],
            options['max_instances']) != tuple(demo.values()), name
  assert len(set(keys)) == len(keys)
  sides = [o['max_side'] for o in families.values()]
  assert min(sides) <= 340 and max(sides) >= 600  # small and large images
  shapes = {c['name'] for o in families.values() for c in o['categories']}
  assert 'bar' in shapes  # elongated instances


def test_bar_family_draws_elongated_instances(tmp_path):
  paths = synthetic_shapes.generate(str(tmp_path), num_train=6, num_val=0,
                                    seed=0, **robustness.FAMILIES['elongated'])
  with open(paths['train']) as f:
    data = json.load(f)
  bars = [a['bbox'] for a in data['annotations'] if a['category_id'] == 2]
  assert bars
  # A 4:1 bar at a random angle: its mask fills well under its box.
  fills = [a['area'] / (a['bbox'][2] * a['bbox'][3])
           for a in data['annotations'] if a['category_id'] == 2]
  assert min(fills) < 0.6


def test_unknown_family_is_one_clear_error(capsys):
  assert robustness.main(['robustness', '--families=nope']) == 1
  assert 'unknown --families' in capsys.readouterr().err


def test_table_format():
  row = dict(family='mixed', mask_AP50=0.5, mask_AP=0.3, mask_AR100=0.4,
             box_AP50=0.6, train_min=1.25, ms_per_image=42.0)
  table = robustness.format_table([row])
  assert '| mixed | 0.500 | 0.300 | 0.400 | 0.600 | 1.2 | 42.0 |' in table


@pytest.mark.slow
def test_one_family_end_to_end(tmp_path, capsys):
  out = str(tmp_path / 'rob')
  assert robustness.main([
      'robustness', '--families=large', '--output_dir=' + out,
      '--num_train=8', '--num_val=3', '--train_steps=2',
      '--max_input_side=256', '--json']) == 0
  printed = capsys.readouterr().out
  records = json.loads(printed[printed.rindex('\n[\n') + 1:])
  with open(os.path.join(out, 'large', 'result.json')) as f:
    assert json.load(f) == records[0]
  record = records[0]
  assert record['family'] == 'large' and record['train_steps'] == 2
  for column in robustness.COLUMNS:
    assert record[column] >= 0.0, column
  assert record['ms_per_image'] > 0 and record['train_min'] > 0
  with open(record['config']) as f:
    written = f.read()
  assert 'class_ids: [10, 40]' in written
  assert os.path.exists(os.path.join(out, 'large', 'saved_model',
                                     'saved_model.pb'))
