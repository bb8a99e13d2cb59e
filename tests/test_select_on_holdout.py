# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Choosing test-time settings on the held-back split (scores faked)."""

import pytest
import yaml

from tools import select_on_holdout as sel
from mnc_tf.configs import experiment_params
from mnc_tf.data import inspect

CONFIG = [inspect.CUSTOM_DATA_YAML]


def test_candidates_and_choice_by_hand():
  rows = sel.candidates([0.8, 1.0, 1.25], [False, True], max_cost=2.0)
  # 1.25 with the flip costs 1.5625 * 2 = 3.1: skipped.
  assert [(f, fl) for f, fl, _ in rows] == [
      (0.8, False), (1.0, False), (0.8, True), (1.25, False), (1.0, True)]
  scored = [{'score': 0.70, 'cost': 1.0}, {'score': 0.705, 'cost': 2.0},
            {'score': 0.60, 'cost': 0.64}]
  assert sel.choose(scored, 0.01) is scored[0]  # tie: the cheaper
  assert sel.choose(scored, 0.001) is scored[1]  # no tie: the best
  with pytest.raises(sel.SelectionError, match='max_cost'):
    sel.candidates([2.0], [True], max_cost=1.0)


def test_select_scores_on_the_holdout_only(tmp_path):
  calls = []

  def fake_evaluate(experiment, config_files, model_dir, work_dir, override):
    calls.append(override)
    parser = override['task']['validation_data']['parser']
    flip = override['task']['model']['cascade']['test_horizontal_flip']
    # A made-up score peaking at the 1.25 scale without the flip.
    return {'mask_AP50': parser['scale'] / 1000.0 - 0.02 * flip}

  chosen, rows = sel.select('mnc_shapes_demo', CONFIG, str(tmp_path),
                            'h.json', 'h-*.tfrecord', evaluate_fn=fake_evaluate)
  assert len(rows) == 5
  assert all(c['task']['annotation_file'] == 'h.json' for c in calls)
  assert all(c['task']['validation_data']['input_path'] == 'h-*.tfrecord'
             for c in calls)
  # Training parser 320 / 448: x1.25 -> 400 / 560 (multiples of the size
  # divisor, 16).
  parser = chosen['override']['task']['validation_data']['parser']
  assert (chosen['factor'], chosen['flip']) == (1.25, False)
  assert (parser['scale'], parser['max_size']) == (400, 560)
  out = tmp_path / 'test.yaml'
  out.write_text(sel.to_yaml(chosen, rows, 'h.json'))
  assert yaml.safe_load(out.read_text())['task']['validation_data'][
      'parser']['padded_size'] == [560, 560]
  params = experiment_params.parse('mnc_shapes_demo', CONFIG + [str(out)])
  assert params.task.validation_data.parser.scale == 400
  assert params.task.model.cascade.test_horizontal_flip is False
