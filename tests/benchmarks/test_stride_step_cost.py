# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The per-stride step-cost benchmark (`mnc_tf.benchmarks.stride_step_cost`)."""

import json

import pytest

from mnc_tf.benchmarks import stride_step_cost
from tests.benchmarks import benchmark_cli


def test_each_stride_is_timed_as_the_recipe_writes_it():
  for stride, pre_nms in ((16, 200), (8, 800), (4, 3200)):
    params = stride_step_cost.stride_params(stride, 448, 'x-*.tfrecord')
    model = params.task.model
    assert model.backbone.tiny.output_stride == stride
    assert model.proposal_generator.pre_nms_top_k == pre_nms
    assert model.proposal_generator.test_pre_nms_top_k == pre_nms
    parser = params.task.train_data.parser
    assert (parser.scale, parser.max_size) == (448, 448)
    assert list(parser.padded_size) == [448, 448]
    assert params.task.train_data.input_path == 'x-*.tfrecord'


@pytest.mark.slow
def test_sizes_not_multiples_of_16_are_a_usage_error():
  result = benchmark_cli.run('mnc_tf.benchmarks.stride_step_cost',
                             '--sizes=100', '--json')
  assert result.returncode != 0
  assert '--sizes must be multiples of 16, got 100' in result.stderr


@pytest.mark.slow
def test_three_strides_timed_in_one_process():
  result = benchmark_cli.run('mnc_tf.benchmarks.stride_step_cost',
                             '--sizes=64', '--rounds=1',
                             '--steps_per_round=1', '--num_images=2',
                             '--json')
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout)
  assert report['batch'] == 2
  row = report['sizes']['64']
  assert row['ratio_to_16']['16'] == 1.0
  for stride in ('16', '8', '4'):
    assert row['step_seconds'][stride] > 0
    assert row['ratio_to_16'][stride] == pytest.approx(
        row['step_seconds'][stride] / row['step_seconds']['16'])
