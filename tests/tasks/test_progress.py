# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the training progress printer."""
import contextlib
import io
import logging as std_logging

from absl import logging
import numpy as np

from mnc_tf.tasks import progress


class _Step:

  def __init__(self):
    self.value = 0

  def numpy(self):
    return np.int64(self.value)


def test_format_duration():
  assert progress.format_duration(3) == '3s'
  assert progress.format_duration(125) == '2m05s'
  assert progress.format_duration(3723) == '1h02m03s'


def test_lines_show_losses_speed_and_eta():
  step, times, lines = _Step(), iter([100.0, 110.0, 130.0]), []
  printer = progress.ProgressPrinter(step, total_steps=100,
                                     print_fn=lines.append,
                                     clock=lambda: next(times))
  outputs = {'total_loss': np.float32(2.5), 'stage2_loss': 0.75,
             'training_loss': 2.5, 'stage2_mask': 0.75,
             'learning_rate': np.float32(0.001)}
  for value in (10, 20, 40):
    step.value = value
    printer(outputs)
  assert lines[0].startswith('step 10/100 | total_loss 2.5000 | '
                             'stage2_loss 0.7500 | lr 0.001 | ')
  assert 'steps/s --' in lines[0]
  # 10 steps in 10 s -> 1 step/s, 80 steps left -> 80 s.
  assert lines[1].endswith('1.00 steps/s | ETA 1m20s')
  # 30 steps in 30 s since the first loop -> 1 step/s, 60 left.
  assert lines[2].endswith('1.00 steps/s | ETA 1m00s')


def test_metrics_table_has_every_scalar_once_and_no_arrays():
  names = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'ARmax1', 'ARmax10',
           'ARmax100', 'ARs', 'ARm', 'ARl']
  metrics = {f'{prefix}_{name}': round(0.01 * (i + 10 * j), 4)
             for j, prefix in enumerate(('box', 'mask'))
             for i, name in enumerate(names)}
  metrics.update({'mAPr50': np.float32(0.5), 'mAPr70': 0.25,
                  'mask_AP_ByCategory/4': 0.125,
                  'image/validation_predictions': np.zeros((2, 8, 8, 3))})
  table = progress.metrics_table(metrics, step=30)
  lines = table.splitlines()
  assert lines[0] == ('eval | step 30 | mask_AP 0.1000 | mask_AP50 0.1100 | '
                      'box_AP 0.0000 | mAPr50 0.5000 | mAPr70 0.2500')
  assert lines[1].split() == names
  mask_row = next(l for l in lines if l.startswith('  mask '))
  assert [float(v) for v in mask_row.split()[1:]] == [
      metrics[f'mask_{n}'] for n in names]
  assert lines[-1] == ('  mAPr50 0.5000 | mAPr70 0.2500 | '
                       'mask_AP_ByCategory/4 0.1250')
  assert 'validation_predictions' not in table and len(lines) == 5


def test_orbit_output_dumps_are_dropped_and_the_rest_kept():
  buffer = io.StringIO()
  record = std_logging.LogRecord('absl', std_logging.INFO,
                                 '/site-packages/orbit/controller.py', 1,
                                 'train | step: 2 | output: {}', (), None)
  handler = logging.get_absl_handler()
  with contextlib.redirect_stdout(buffer):
    with progress.quiet_orbit_outputs():
      print('train | step:      2 | steps/sec:    0.5 | output: \n    {big}')
      print('train | step:      0 | training until step 4...')
      print(' eval | step:      4 | eval time: 3.0 sec | output: {"a": 1}')
      print('step 2/4 | total_loss 1.0000')
      assert not handler.filter(record)
  assert handler.filter(record)
  assert buffer.getvalue() == ('train | step:      0 | training until step '
                               '4...\nstep 2/4 | total_loss 1.0000\n')


def test_lines_show_damaged_records_skipped_when_reported():
  step, lines = _Step(), []
  printer = progress.ProgressPrinter(step, total_steps=10,
                                     print_fn=lines.append,
                                     clock=lambda: 0.0)
  step.value = 5
  printer({'total_loss': 1.0, 'learning_rate': 0.1})
  printer({'total_loss': 1.0, 'learning_rate': 0.1,
           'damaged_records_skipped': np.float32(3)})
  assert 'damaged' not in lines[0]
  assert lines[1] == ('step 5/10 | total_loss 1.0000 | lr 0.1 | damaged '
                      'records skipped 3')
