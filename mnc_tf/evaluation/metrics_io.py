# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Writes evaluation metrics to a JSON file in the model directory."""
import json
import math
import os
from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from mnc_tf.utils import atomic_io

METRICS_FILENAME = 'eval_metrics.json'


def _plain(value):
  """NumPy / TF scalars -> JSON-safe Python floats (NaN -> None)."""
  if hasattr(value, 'numpy'):
    value = value.numpy()
  value = np.asarray(value)
  if value.ndim:
    return [_plain(v) for v in value]
  value = value.item()
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value


def write_metrics_json(metrics: Mapping[str, Any], model_dir: str, step: int,
                       filename: str = METRICS_FILENAME) -> str:
  """Records `metrics` of global step `step` in `model_dir/filename`.

  The file holds `{"latest": {"step": s, "metrics": {...}}, "history":
  {"<step>": {...}, ...}}`; earlier steps are kept. It is written to a
  temporary name and renamed, so a reader never sees half a file.

  Args:
    metrics: name -> scalar (floats, NumPy or TF scalars). Non-scalar values
      (e.g. images) are skipped.
    model_dir: directory (created if missing).
    step: the global step the metrics belong to.
    filename: file name inside `model_dir`.

  Returns:
    The path written.
  """
  tf.io.gfile.makedirs(model_dir)
  path = os.path.join(model_dir, filename)
  history = {}
  if tf.io.gfile.exists(path):
    try:
      with tf.io.gfile.GFile(path) as f:
        history = json.load(f).get('history', {})
    except (ValueError, AttributeError):
      history = {}  # A corrupt file is replaced rather than trusted.
  scalars = {}
  for name, value in metrics.items():
    if isinstance(name, str) and name.startswith('image/'):
      continue
    plain = _plain(value)
    if not isinstance(plain, list):
      scalars[name] = plain
  history[str(int(step))] = scalars
  payload = {'latest': {'step': int(step), 'metrics': scalars},
             'history': history}
  return atomic_io.write_json(path, payload, indent=1, sort_keys=True)
