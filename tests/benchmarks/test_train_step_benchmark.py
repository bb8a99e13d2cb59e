# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The train-step benchmark CLI (`python -m mnc_tf.benchmarks.train_step`)."""

import json
import math

import pytest

from tests.benchmarks import benchmark_cli


def _run(*args):
  return benchmark_cli.run('mnc_tf.benchmarks.train_step', *args)


@pytest.mark.slow
def test_tiny_experiment_json():
  """The tiny demo model, 3 stages, 64 x 96 images: keys, positive numbers."""
  result = _run('--experiment=mnc_shapes_demo', '--image_size=64,96',
                '--num_images=2', '--max_instances=2', '--steps=2', '--json',
                '--params_override=task.model.cascade.num_train_stages=3')
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout)
  mnc = report['mnc']
  assert mnc['name'] == 'mnc_shapes_demo'
  for key in ('step_seconds', 'peak_memory_bytes', 'first_step_seconds'):
    assert mnc[key] > 0 and math.isfinite(mnc[key]), (key, mnc[key])
  assert mnc['memory_kind'] in ('cpu_peak_rss', 'gpu_peak')
  assert len(mnc['step_seconds_all']) == 2
  assert mnc['step_seconds'] == mnc['step_seconds_all'][1]  # First excluded.
  assert math.isfinite(mnc['last_loss'])
  # Resident set before the steady steps <= their peak (Linux /proc).
  assert 0 < mnc['rss_before_steady_bytes'] <= mnc['steady_step_peak_rss_bytes']
  assert report['data']['image_size'] == [64, 96]
  assert 'peer' not in report and 'ratios' not in report


def test_bad_image_size_is_a_one_line_usage_error():
  result = _run('--image_size=64', '--json')
  assert result.returncode != 0
  assert '--image_size must be height,width' in result.stderr
  assert 'Traceback' not in result.stderr
