# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""End-to-end smoke: train.py trains a few steps and evaluates (CI)."""
import glob
import json
import os

import pytest
import tensorflow as tf

from mnc_tf.tasks import mnc_task
from tests import mnc_test_data
from tests import train_subprocess

# Trains, compiles or starts subprocesses: `make test-fast` skips it.
pytestmark = pytest.mark.slow


def _tags(event_dir):
  tags = {}
  for path in glob.glob(os.path.join(event_dir, 'events.out.tfevents.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        tags.setdefault(value.tag, value.metadata.plugin_data.plugin_name)
  return tags


def _scalars(event_dir, names):
  """{name: [values]} of the scalar summaries `names` under `event_dir`."""
  values = {name: [] for name in names}
  for path in glob.glob(os.path.join(event_dir, 'events.out.tfevents.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag in values:
          values[value.tag].append(float(tf.make_ndarray(value.tensor)))
  return values


def test_train_and_eval_writes_checkpoints_metrics_and_summaries(tmp_path):
  paths = mnc_test_data.make_tiny_shapes(str(tmp_path / 'data'))
  model_dir = str(tmp_path / 'model')
  result = train_subprocess.run(
      model_dir, paths, 'train_and_eval',
      'trainer.train_steps=4,trainer.steps_per_loop=2,'
      'trainer.validation_interval=4,trainer.checkpoint_interval=2,'
      'trainer.summary_interval=2')
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  out = result.stdout
  # Progress lines: step, losses, speed and ETA.
  assert 'step 2/4 | total_loss ' in out
  assert 'step 4/4 | total_loss ' in out and ' steps/s | ETA ' in out
  assert 'eval | step 4 | mask_AP ' in out
  # A console a person can read: one progress line per loop (4 steps, 2 per
  # loop), the metrics once as a table, no dumps of output dicts or pictures,
  # no FLOPs-count failure.
  console = out + result.stderr
  assert [l.split(' | ')[0] for l in out.splitlines()
          if l.startswith('step ')] == ['step 2/4', 'step 4/4']
  assert sum(l.startswith('eval | step 4 |') for l in out.splitlines()) == 1
  assert '| output:' not in console and '[[[' not in console
  assert 'validation_predictions' not in console.replace(
      'pictures of predictions:', '').replace(
          os.path.join(model_dir, 'validation_predictions'), '')
  assert 'FLOPs' not in console and 'Average Precision' not in console
  assert len(console.splitlines()) < 40, console

  # The resolved params.
  with open(os.path.join(model_dir, 'params.yaml')) as f:
    params = f.read()
  assert 'train_steps: 4' in params and 'scale: 64' in params
  assert tf.train.latest_checkpoint(model_dir).endswith('ckpt-4')

  # Metrics JSON: COCO and SDS numbers of step 4, all in [0, 1] or -1.
  with open(os.path.join(model_dir, 'eval_metrics.json')) as f:
    latest = json.load(f)['latest']
  assert latest['step'] == 4
  for name in ('box_AP', 'box_AP50', 'mask_AP', 'mask_AP50', 'mask_APs',
               'mAPr50', 'mAPr70'):
    assert -1.0 <= latest['metrics'][name] <= 1.0, name

  # TensorBoard: every loss term, learning rate and speed while training;
  # every metric and the pictures in validation.
  train_tags = _tags(os.path.join(model_dir, 'train'))
  for name in mnc_task.loss_names(5) + ['learning_rate', 'steps_per_second']:
    assert name in train_tags, name
  # The share of the box-path gradient at the clip, per pathway, in [0, 1].
  clip_shares = _scalars(os.path.join(model_dir, 'train'),
                         ['rpn_box_gradient_at_clip',
                          'stage3_box_gradient_at_clip'])
  for name, values in clip_shares.items():
    assert values and all(0.0 <= v <= 1.0 for v in values), (name, values)
  validation_tags = _tags(os.path.join(model_dir, 'validation'))
  for name in ('mask_AP50', 'box_AP', 'mAPr50', 'mAPr70'):
    assert name in validation_tags, name
  assert validation_tags['image/validation_predictions'] == 'images'
  pictures = glob.glob(os.path.join(model_dir, 'validation_predictions',
                                    'step_0000004', 'image_*.png'))
  assert len(pictures) == 2


def test_missing_input_path_is_a_clear_error(tmp_path):
  paths = {'train_pattern': '', 'val_pattern': '', 'val_json': ''}
  result = train_subprocess.run(str(tmp_path / 'model'), paths, 'train',
                                'trainer.train_steps=1', timeout=120)
  assert result.returncode != 0
  assert 'No input_path for the training data' in result.stderr
