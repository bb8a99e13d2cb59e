# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The ablation: its table (mean, sample sd) and the runs it asks train.py for."""
import json
import os

from absl import app
from absl import flags
import numpy as np
import pytest

from tools import ablation


def test_table_reports_mean_and_sample_std_over_runs(tmp_path):
  runs = [{'mAPr50': 0.80, 'mAPr70': 0.60, 'mask_AP50': 0.85},
          {'mAPr50': 0.84, 'mAPr70': 0.66, 'mask_AP50': 0.83},
          {'mAPr50': 0.79, 'mAPr70': 0.63, 'mask_AP50': 0.90}]
  table = ablation.markdown_table(
      [('5-stage, box gradient on', runs), ('single', runs[:1])], 'cmd')
  row = next(l for l in table.splitlines() if l.startswith('| 5-stage'))
  cells = [c.strip() for c in row.strip('|').split('|')]
  assert cells[1] == '3'
  for cell, key in zip(cells[2:], ablation.METRICS):
    values = 100 * np.array([r[key] for r in runs])
    mean, std = cell.split(' ± ')
    assert float(mean) == pytest.approx(values.mean(), abs=0.05)
    assert float(std) == pytest.approx(values.std(ddof=1), abs=0.05)
  assert '| single | 1 | 80.0 | 60.0 | 85.0 |' in table


def _flag_values(*argv):
  flag_values = flags.FlagValues()
  ablation.define_flags(flag_values)
  flag_values(['ablation', *argv])
  return flag_values


def test_repeats_must_be_positive():
  with pytest.raises(flags.IllegalFlagValueError, match='repeats'):
    _flag_values('--repeats=0')
  assert _flag_values('--repeats=2').repeats == 2


def test_variants_name_the_bad_index_before_any_work(tmp_path):
  flag_values = _flag_values(f'--output_dir={tmp_path}', '--variants=0,9')
  with pytest.raises(app.UsageError, match="'9' is not an index in 0..4"):
    ablation.main(['ablation'], flag_values)
  assert not list(tmp_path.iterdir())  # nothing generated
  assert [v[1:3] for v in ablation.chosen_variants(['2', '0'])] == [
      (3, True), (5, True)]
  assert _flag_values().variants == ['0', '1', '2', '3']  # demo default kept


def _custom_data(tmp_path):
  """A paths YAML like a user's: existing (empty) TFRecords and a val JSON."""
  for name in ('train-0.tfrecord', 'val-0.tfrecord'):
    (tmp_path / name).write_text('')
  (tmp_path / 'val.json').write_text(
      '{"images": [], "annotations": [], "categories": []}')
  paths = tmp_path / 'paths.yaml'
  paths.write_text(
      f"task:\n  annotation_file: '{tmp_path}/val.json'\n"
      '  model:\n    class_ids: [1, 2, 4, 7, 10]\n'
      f"  train_data:\n    input_path: '{tmp_path}/train-*.tfrecord'\n"
      f"  validation_data:\n    input_path: '{tmp_path}/val-*.tfrecord'\n")
  return str(paths)


def _fake_training(calls):
  """Stands in for train.py: writes eval_metrics.json as the trainer does."""
  def run_training(command):
    calls.append(command)
    flag = dict(a[2:].split('=', 1) for a in command[2:] if '=' in a)
    override = dict(e.split('=', 1) for e in flag['params_override'].split(
        ',') if '=' in e)
    # Metrics that depend on the variant and the run, to check the table.
    value = (0.1 * int(override['task.model.cascade.num_train_stages'])
             - 0.05 * (override['task.model.cascade.box_gradient'] == 'false')
             + 0.01 * len(calls))
    os.makedirs(flag['model_dir'], exist_ok=True)
    with open(os.path.join(flag['model_dir'], 'eval_metrics.json'), 'w') as f:
      json.dump({'latest': {'step': int(override['trainer.train_steps']),
                            'metrics': {key: value for key in
                                        ablation.CUSTOM_METRICS}}}, f)
  return run_training


def test_custom_data_runs_the_recipe_per_variant(tmp_path, monkeypatch):
  paths = _custom_data(tmp_path)
  recipe = os.path.join(ablation.demo_lib.REPO_ROOT, 'configs', 'experiments',
                        'mnc_custom_data.yaml')
  calls = []
  monkeypatch.setattr(ablation, 'run_training', _fake_training(calls))
  argv = ('--experiment=mnc_shapes_demo', f'--config_file={recipe}',
          f'--config_file={paths}', f'--output_dir={tmp_path}/out',
          '--train_steps=500', '--repeats=2', '--variants=0,1,2,4')
  assert ablation.main(['ablation'], _flag_values(*argv)) == 0
  assert len(calls) == 8
  # Repeat-major order, so that a cut ablation has equal rows.
  stages_boxgrad = [(c[-1].split('num_train_stages=')[1][0],
                     c[-1].split('box_gradient=')[1].split(',')[0])
                    for c in calls]
  assert stages_boxgrad[:4] == [('5', 'true'), ('5', 'false'),
                                ('3', 'true'), ('5', 'true')]
  for command in calls:
    assert command[2:5] == ['--experiment=mnc_shapes_demo',
                            f'--config_file={recipe}', f'--config_file={paths}']
    # The recipe's cosine decay over all its 1900 steps, over all 500 here.
    assert command[-1].endswith(
        'trainer.train_steps=500,trainer.validation_interval=500,'
        'trainer.optimizer_config.learning_rate.cosine.decay_steps=500')
  previous = [c for c in calls if 'previous' in ' '.join(c)]
  assert len(previous) == 2 and all(
      c[5].endswith('configs/experiments/previous_training_settings.yaml')
      for c in previous)
  table = (tmp_path / 'out' / 'ablation' / 'ablation.md').read_text()
  row = next(l for l in table.splitlines() if l.startswith('| 3-stage'))
  cells = [c.strip() for c in row.strip('|').split('|')]
  values = 100 * np.array([0.3 + 0.03, 0.3 + 0.07])  # calls 3 and 7
  assert cells[1] == '2' and cells[2] == (
      f'{values.mean():.1f} ± {values.std(ddof=1):.1f}')
  assert 'wall min / run' in table and '--train_steps=500' in table
  record = json.loads((tmp_path / 'out' / 'ablation' /
                       'previous_stages5_boxgrad1_run1' / 'run.json').read_text())
  assert record['step'] == 500 and record['cpu_s'] >= 0
  # --resume reuses every finished run: nothing is trained again; the same
  # table goes to --table_file when one is given.
  table_file = tmp_path / 'docs' / 'results' / 'ablation.md'
  os.makedirs(table_file.parent)
  assert ablation.main(['ablation'], _flag_values(
      *argv, '--resume', f'--table_file={table_file}')) == 0
  assert len(calls) == 8
  assert table_file.read_text() == table
  # One run, then more repeats with --resume: only the new runs train.
  calls.clear()
  single = [a for a in argv if not a.startswith(('--repeats', '--variants',
                                                 '--output_dir'))]
  single += [f'--output_dir={tmp_path}/grown', '--variants=0']
  assert ablation.main(['ablation'], _flag_values(
      *single, '--repeats=1', '--resume')) == 0
  assert ablation.main(['ablation'], _flag_values(
      *single, '--repeats=2', '--resume')) == 0
  assert len(calls) == 2
  assert sorted(os.listdir(tmp_path / 'grown' / 'ablation')) == [
      'ablation.md', 'stages5_boxgrad1_run0', 'stages5_boxgrad1_run1']


def test_custom_data_bad_input_named_before_any_run(tmp_path, monkeypatch):
  monkeypatch.setattr(ablation, 'run_training', lambda c: pytest.fail('ran'))
  with pytest.raises(app.UsageError, match='nowhere.yaml: no such file'):
    ablation.main(['ablation'], _flag_values(
        '--experiment=mnc_shapes_demo', f'--config_file={tmp_path}/nowhere.yaml',
        f'--output_dir={tmp_path}'))
  with pytest.raises(app.UsageError, match=r'boundaries \[1700\] of 2000 steps'):
    ablation.scaled_boundaries([1700], 2000, 1)
  assert ablation.scaled_boundaries([1700], 2000, 500) == [425]
  with pytest.raises(app.UsageError, match='need --experiment'):
    ablation.main(['ablation'], _flag_values(
        f'--config_file={tmp_path}/x.yaml', f'--output_dir={tmp_path}'))


def test_schedule_override_scales_stepwise_and_cosine_schedules():
  """Boundaries / decay_steps keep their fraction of the steps."""
  # pylint: disable=g-import-not-at-top
  from official.modeling.optimization.configs import learning_rate_config
  from official.modeling.optimization.configs import optimization_config
  # pylint: enable=g-import-not-at-top
  stepwise = optimization_config.LrConfig(
      type='stepwise', stepwise=learning_rate_config.StepwiseLrConfig(
          boundaries=[1200, 1700], values=[0.02, 0.002, 0.0002]))
  assert ablation.schedule_override(stepwise, 2000, 500) == [
      'trainer.optimizer_config.learning_rate.stepwise.boundaries=[300,425]']
  cosine = optimization_config.LrConfig(
      type='cosine', cosine=learning_rate_config.CosineLrConfig(
          initial_learning_rate=0.02, decay_steps=2500))
  assert ablation.schedule_override(cosine, 2500, 300) == [
      'trainer.optimizer_config.learning_rate.cosine.decay_steps=300']
  assert ablation.schedule_override(cosine, 2500, 1) == [
      'trainer.optimizer_config.learning_rate.cosine.decay_steps=1']
  with pytest.raises(app.UsageError, match="schedule 'polynomial'"):
    ablation.schedule_override(
        optimization_config.LrConfig(type='polynomial'), 2000, 500)
