# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""`python -m mnc_tf.benchmarks.inference` on the tiny demo model (no peer)."""
import json

from absl import flags
import pytest

from mnc_tf.benchmarks import inference
from mnc_tf.configs import experiment_params
from mnc_tf.configs import model as model_cfg


def _run(*argv):
  flag_values = flags.FlagValues()
  inference.define_flags(flag_values)
  flag_values(['inference', *argv])
  return inference.run(flag_values)


def test_benchmark_reports_every_stage(capsys):
  report = _run('--experiment=mnc_shapes_demo', '--no_peer', '--runs=1',
                '--json')
  seconds = report['mnc_seconds']
  assert set(inference.MNC_PARTS) <= set(seconds)
  assert all(seconds[p] > 0 for p in inference.MNC_PARTS + ('total',))
  assert abs(seconds['sum_of_parts']
             - sum(seconds[p] for p in inference.MNC_PARTS)) < 1e-9
  assert report['image'] == [600, 1000]
  assert 'peer_seconds' not in report
  assert '"mnc_seconds"' in capsys.readouterr().out


@pytest.mark.slow
def test_benchmark_times_a_saved_model(exported, capsys):
  report = _run('--experiment=mnc_shapes_demo', '--no_peer', '--runs=1',
                f"--saved_model={exported['export_dir']}")
  assert report['saved_model_seconds']['total'] > 0
  assert 'SavedModel serving_default' in capsys.readouterr().out


def test_bad_experiment_and_runs_are_refused_before_any_work():
  with pytest.raises(experiment_params.ParamsError, match='unknown '
                     '--experiment=mnc_nope'):
    _run('--experiment=mnc_nope')
  with pytest.raises(flags.IllegalFlagValueError, match='runs'):
    _run('--runs=0')


def test_benchmark_times_a_pyramid_model(capsys):
  model = model_cfg.tiny_pyramid_model_config(class_ids=[1, 2, 4]).as_dict()
  report = _run('--experiment=mnc_shapes_demo', '--no_peer', '--runs=1',
                '--json', '--params_override=' + json.dumps(
                    {'task': {'model': model}}))
  assert report['decoder'] == 'fpn'
  assert report['mnc_padded'] == [608, 1024]   # multiples of 32
  seconds = report['mnc_seconds']
  assert all(seconds[p] > 0 for p in inference.MNC_PARTS + ('total',))
  assert '"mnc_seconds"' in capsys.readouterr().out
