# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The machine a benchmark ran on, for its report (timings mean little without it)."""
import os
import platform


def describe():
  """Processor, usable CPUs, 1-minute load and TF version of this machine.

  Returns:
    dict with `platform`, `processor`, `cpu_count` (CPUs this process may
    use), `load_average_1min` and `tensorflow`.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  # (here, so that a parent process that only spawns benchmark children,
  # like train_step's, does not load TensorFlow for this.)
  model = ''
  try:
    with open('/proc/cpuinfo') as f:
      model = next((line.split(':', 1)[1].strip() for line in f
                    if line.startswith('model name')), '')
  except OSError:
    pass
  return {'platform': platform.platform(),
          'processor': model or platform.processor() or platform.machine(),
          'cpu_count': len(os.sched_getaffinity(0)),
          'load_average_1min': os.getloadavg()[0],
          'tensorflow': tf.__version__}
