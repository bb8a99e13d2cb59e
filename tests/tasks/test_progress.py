# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the training progress printer."""
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
