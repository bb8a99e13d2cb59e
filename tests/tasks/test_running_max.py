# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The training metric reporting a running count (damaged records skipped)."""
import tensorflow as tf

from mnc_tf.tasks import mnc_task


def test_result_is_the_largest_value_since_reset():
  metric = mnc_task.RunningMax('damaged_records_skipped')
  for value in (2, 5, 3):
    metric.update_state(tf.constant(value, tf.int64))
  assert float(metric.result()) == 5.0
  metric.reset_state()
  assert float(metric.result()) == 0.0
  metric.update_state(1)
  assert float(metric.result()) == 1.0
