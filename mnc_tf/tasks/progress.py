# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""A console a person can read: progress lines and a metrics table.

- `ProgressPrinter` (train action): one line per loop with step, losses,
  learning rate, steps/s and ETA;
- `MetricsTablePrinter` (eval action): each evaluation once, as a compact
  table of the scalar metrics;
- `quiet_orbit_outputs()`: drops what these replace, i.e. Orbit's own dump of
  every train / eval output dict (printed to stdout AND logged, so twice,
  pictures included as nested lists).
"""
import contextlib
import io
import logging as std_logging
import sys
import time
from typing import Callable, Mapping, Optional

from absl import logging
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
    if 'damaged_records_skipped' in output:
      skipped = _scalar(output['damaged_records_skipped'])
      parts.append(f'damaged records skipped {int(skipped or 0)}')
    if self._first is None:
      self._first = (step, now)
      parts.append('steps/s -- (first loop includes tracing)')
    elif now > self._first[1] and step > self._first[0]:
      rate = (step - self._first[0]) / (now - self._first[1])
      eta = (self._total_steps - step) / rate
      parts.append(f'{rate:.2f} steps/s')
      parts.append(f'ETA {format_duration(eta)}')
    self._print(' | '.join(parts))


HEADLINE_METRICS = ('mask_AP', 'mask_AP50', 'box_AP', 'mAPr50', 'mAPr70')
_TABLE_ROWS = ('mask', 'box')  # COCO metric prefixes, one table row each


def _scalars(metrics: Mapping[str, object]):
  """{name: float} of the scalar entries (arrays, e.g. images, dropped)."""
  scalars = {}
  for name, value in metrics.items():
    try:
      scalar = _scalar(value)
    except (TypeError, ValueError):
      scalar = None
    if scalar is not None:
      scalars[name] = scalar
  return scalars


def _wrapped(items, width=100, indent='  '):
  """'a 1 | b 2 | ...' cut into lines of at most `width` characters."""
  lines, line = [], ''
  for item in items:
    candidate = f'{line} | {item}' if line else item
    if line and len(indent) + len(candidate) > width:
      lines.append(indent + line)
      candidate = item
    line = candidate
  if line:
    lines.append(indent + line)
  return lines


def metrics_table(metrics: Mapping[str, object], step: int) -> str:
  """Evaluation metrics as a compact table (scalars only).

  The first line is `eval | step N | mask_AP x | mask_AP50 x | box_AP x |
  mAPr50 x | mAPr70 x`; then one row per COCO prefix (`mask`, `box`) with a
  column per metric (AP, AP50, ... ARl), then the remaining scalars
  (mAP^r, per-category APs, ...), several per line. Non-scalar entries, such
  as the `image/validation_predictions` pictures, are left out.

  Args:
    metrics: name -> value (Python/NumPy/tensor scalars, or arrays).
    step: the training step evaluated.

  Returns:
    the table, lines joined by newlines (no trailing newline).
  """
  scalars = _scalars(metrics)
  head = [f'{name} {scalars[name]:.4f}' for name in HEADLINE_METRICS
          if name in scalars]
  lines = [' | '.join([f'eval | step {step}'] + head)]
  used = set()
  columns = []
  for prefix in _TABLE_ROWS:
    for name in scalars:
      if name.startswith(prefix + '_') and '/' not in name:
        column = name[len(prefix) + 1:]
        if column not in columns:
          columns.append(column)
  if columns:
    width = max(8, max(len(c) for c in columns) + 1)
    lines.append('  ' + ' ' * 5 + ''.join(f'{c:>{width}}' for c in columns))
    for prefix in _TABLE_ROWS:
      row = [scalars.get(f'{prefix}_{c}') for c in columns]
      if all(v is None for v in row):
        continue
      used.update(f'{prefix}_{c}' for c in columns)
      lines.append(f'  {prefix:<5}' + ''.join(
          f'{"-" if v is None else format(v, ".4f"):>{width}}' for v in row))
  rest = [f'{name} {value:.4f}' for name, value in scalars.items()
          if name not in used]
  lines += _wrapped(rest)
  return '\n'.join(lines)


class MetricsTablePrinter:
  """An Orbit eval action printing `metrics_table` of each evaluation."""

  def __init__(self, global_step, print_fn: Callable[[str], None] = None):
    """Initializes the printer.

    Args:
      global_step: a variable (or anything with `.numpy()`) holding the step.
      print_fn: where the table goes (default: stdout, flushed).
    """
    self._global_step = global_step
    self._print = print_fn or ProgressPrinter._print_flush  # pylint: disable=protected-access

  def __call__(self, output: Optional[Mapping[str, object]]):
    step = int(np.asarray(self._global_step.numpy()))
    self._print(metrics_table(output or {}, step))


_ORBIT_OUTPUT_PREFIXES = ('train | step:', ' eval | step:')
_ORBIT_OUTPUT_MARK = '| output:'


def is_orbit_output(message: str) -> bool:
  """True for Orbit's `train|eval | step: N | ... | output: {...}` dumps."""
  return (message.startswith(_ORBIT_OUTPUT_PREFIXES)
          and _ORBIT_OUTPUT_MARK in message)


class _DropOrbitOutputs(io.TextIOBase):
  """A text stream passing everything but Orbit's output dumps through.

  Orbit prints a dump with one `write` of the message and one of the newline.
  """

  def __init__(self, stream):
    super().__init__()
    self._stream = stream
    self._drop_newline = False

  def write(self, text):
    if is_orbit_output(text):
      self._drop_newline = True
      return len(text)
    if self._drop_newline and text == '\n':
      self._drop_newline = False
      return len(text)
    self._drop_newline = False
    return self._stream.write(text)

  def flush(self):
    self._stream.flush()

  def writable(self):
    return True

  @property
  def encoding(self):
    return getattr(self._stream, 'encoding', 'utf-8')

  def isatty(self):
    return self._stream.isatty()

  def fileno(self):
    return self._stream.fileno()


class _OrbitLogFilter(std_logging.Filter):
  """Drops the log copy of everything Orbit's controller also prints."""

  def filter(self, record):
    return not (record.levelno == std_logging.INFO and
                record.pathname.replace('\\', '/').endswith(
                    'orbit/controller.py'))


@contextlib.contextmanager
def quiet_orbit_outputs():
  """Within: Orbit's output dumps are not printed and its INFO not logged.

  Orbit's controller logs each message AND prints it; the printed copy stays
  (except the output dumps, which `ProgressPrinter` and `MetricsTablePrinter`
  replace), the logged copy goes. Everything still reaches TensorBoard.
  """
  handler = logging.get_absl_handler()
  log_filter = _OrbitLogFilter()
  handler.addFilter(log_filter)
  try:
    with contextlib.redirect_stdout(_DropOrbitOutputs(sys.stdout)):
      yield
  finally:
    handler.removeFilter(log_filter)
