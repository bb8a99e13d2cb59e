# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the metrics JSON writer."""
import json
import os

import numpy as np

from mnc_tf.evaluation import metrics_io


def test_writes_latest_and_keeps_history(tmp_path):
  model_dir = str(tmp_path / 'model')
  path = metrics_io.write_metrics_json(
      {'mAPr50': np.float32(0.5), 'mask_AP': float('nan'),
       'image/validation': np.zeros((1, 2, 2, 3))}, model_dir, step=10)
  metrics_io.write_metrics_json({'mAPr50': 0.75}, model_dir, step=20)
  with open(path) as f:
    data = json.load(f)
  assert data['latest'] == {'step': 20, 'metrics': {'mAPr50': 0.75}}
  assert data['history']['10'] == {'mAPr50': 0.5, 'mask_AP': None}
  assert sorted(os.listdir(model_dir)) == [metrics_io.METRICS_FILENAME]


def test_corrupt_file_is_replaced(tmp_path):
  (tmp_path / metrics_io.METRICS_FILENAME).write_text('{not json')
  path = metrics_io.write_metrics_json({'a': 1.0}, str(tmp_path), step=3)
  with open(path) as f:
    assert json.load(f)['history'] == {'3': {'a': 1.0}}
