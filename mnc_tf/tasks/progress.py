# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""An Orbit train action that prints step, losses, steps/s and ETA."""
import sys
import time
from typing import Callable, Mapping, Optional

import numpy as np


def format_duration(seconds: float) -> str:
  """Seconds -> '1h02m03s' / '2m03s' / '3s'."""
  seconds = int(round(max(seconds, 0)))
  hours, rest = divmod(seconds, 3600)
  minutes, secs = divmod(rest, 60)
  if hours:
    return f'{hours}h{minutes:02d}m{secs:02d}s'
  if minutes:
    return f'{minutes}m{secs:02d}s'
  return f'{secs}s'


def _scalar(value):
  if hasattr(value, 'numpy'):
    value = value.numpy()
  value = np.asarray(value)
  return float(value) if value.size == 1 else None


class ProgressPrinter:
  """Prints one line per train loop: step, losses, learning rate, speed, ETA.

  The losses printed are `total_loss` and the other outputs named `*_loss`
  (the per-stage sums); the individual terms are in TensorBoard.

  Orbit calls train actions with the loop's output (the trainer's train
  metrics, i.e. every loss by name, and `learning_rate`). The speed is the
  average since the end of the first loop seen, which excludes the graph
  tracing of that first loop; the first line therefore shows no speed.
  """

  def __init__(self, global_step, total_steps: int,
               print_fn: Callable[[str], None] = None,
               clock: Callable[[], float] = time.monotonic,
               suffix: str = '_loss',
               skip=('training_loss', 'model_loss')):
    """Initializes the printer.

    Args:
      global_step: a variable (or anything with `.numpy()`) holding the step.
      total_steps: the step training stops at.
      print_fn: where lines go (default: stdout, flushed).
      clock: monotonic seconds (injectable for tests).
      suffix: only outputs whose name ends so are printed (every term still
        goes to TensorBoard).
      skip: names not printed (duplicates of `total_loss` or its parts).
    """
    self._suffix = suffix
    self._skip = set(skip)
    self._global_step = global_step
    self._total_steps = int(total_steps)
    self._print = print_fn or self._print_flush
    self._clock = clock
    self._first = None  # (step, time) at the end of the first loop.

  @staticmethod
  def _print_flush(line):
    print(line, file=sys.stdout, flush=True)

  def __call__(self, output: Optional[Mapping[str, object]]):
    step = int(np.asarray(self._global_step.numpy()))
    now = self._clock()
    parts = [f'step {step}/{self._total_steps}']
    output = output or {}
    names = sorted(output, key=lambda k: (k != 'total_loss', k))
    for name in names:
      if name in self._skip or not name.endswith(self._suffix):
        continue
      value = _scalar(output[name])
      if value is not None:
        parts.append(f'{name} {value:.4f}')
    if 'learning_rate' in output:
      lr = _scalar(output['learning_rate'])
      if lr is not None:
        parts.append(f'lr {lr:.3g}')
    if self._first is None:
      self._first = (step, now)
      parts.append('steps/s -- (first loop includes tracing)')
    elif now > self._first[1] and step > self._first[0]:
      rate = (step - self._first[0]) / (now - self._first[1])
      eta = (self._total_steps - step) / rate
      parts.append(f'{rate:.2f} steps/s')
      parts.append(f'ETA {format_duration(eta)}')
    self._print(' | '.join(parts))
