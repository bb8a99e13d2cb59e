# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Chooses test-time settings on held-back training data.

    python -m tools.select_on_holdout --model_dir=my/model \
        --config_file=my_data.yaml \
        --holdout_annotations_file=my/split/holdout.json \
        --holdout_input_path='my/data/holdout-*.tfrecord' \
        --write_config=my_test.yaml \
        [--test_scales=0.8,1,1.25] [--test_flip=false,true] [--max_cost=2]

The trained checkpoint in `--model_dir` (trained on `fit.json` of
`mnc_tf.data.holdout_split`) is evaluated on the held-back split once per
candidate: each test scale factor (times the training parser's scale and
max_size) with and without the test-time flip, skipping candidates that cost
more than `--max_cost` single passes at the training scale (cost = factor^2,
x2 with the flip).  The choice: the highest holdout mask AP50; among the
candidates within `--tolerance` of it, the cheapest.  `--write_config`
gets the chosen validation-parser resize and flip, with every candidate's
holdout score as comments; the evaluation set is then scored once:

    python train.py --experiment=mnc_shapes_demo \
        --config_file=my_data.yaml --config_file=my_test.yaml --mode=eval \
        --model_dir=my/model --params_override="task.annotation_file=my/val.json,\
task.validation_data.input_path=my/data/val-*.tfrecord"

Each evaluation runs `train.py --mode=eval` on a copy of the checkpoint in
`<model_dir>/holdout_selection/<candidate>`, so the model's own evaluation
log is not touched.
"""

import glob
import math
import os
import shutil
import subprocess
import sys

from absl import app
from absl import flags
import tensorflow as tf

from tools import demo_lib
from mnc_tf.configs import experiment_params
from mnc_tf.data import recipe_config
from mnc_tf.utils import atomic_io
from mnc_tf.utils import cli

METRIC = 'mask_AP50'


class SelectionError(ValueError):
  """Nothing to select from; the message says why."""


def candidates(factors, flips, max_cost):
  """[(factor, flip, cost)] within `max_cost`, cheapest first."""
  out = []
  for factor in factors:
    for flip in flips:
      cost = factor * factor * (2.0 if flip else 1.0)
      if cost <= max_cost + 1e-9:
        out.append((float(factor), bool(flip), cost))
  if not out:
    raise SelectionError('no candidate costs <= --max_cost=%g' % max_cost)
  return sorted(out, key=lambda c: (c[2], c[0], c[1]))


def choose(scored, tolerance):
  """The cheapest candidate within `tolerance` of the best score.

  Args:
    scored: list of dicts with `score` and `cost`.
    tolerance: score margin counted as a tie.

  Returns:
    the chosen dict.
  """
  best = max(row['score'] for row in scored)
  tied = [row for row in scored if row['score'] >= best - tolerance]
  return min(tied, key=lambda row: (row['cost'], -row['score']))


def _round_up(value, divisor):
  return int(math.ceil(value / float(divisor)) * divisor)


def candidate_override(parser, factor, flip):
  """The validation-parser resize and flip of one candidate (a dict)."""
  divisor = int(parser.size_divisor)
  scale = _round_up(parser.scale * factor, divisor)
  max_size = _round_up(parser.max_size * factor, divisor)
  return {'task': {
      'validation_data': {'parser': {
          'scale': scale, 'max_size': max_size,
          'padded_size': [max_size, max_size]}},
      'model': {'cascade': {'test_horizontal_flip': bool(flip),
                            'test_extra_scales': []}}}}


def _copy_checkpoint(model_dir, target):
  latest = tf.train.latest_checkpoint(model_dir)
  if not latest:
    raise SelectionError('no checkpoint in --model_dir=%s' % model_dir)
  shutil.rmtree(target, ignore_errors=True)
  os.makedirs(target)
  for path in glob.glob(latest + '.*'):
    shutil.copy(path, target)
  atomic_io.write_text(os.path.join(target, 'checkpoint'),
                       'model_checkpoint_path: "%s"\n'
                       % os.path.basename(latest))


def _flatten(override, prefix=''):
  items = []
  for key, value in override.items():
    if isinstance(value, dict):
      items.extend(_flatten(value, prefix + key + '.'))
    else:
      items.append((prefix + key, value))
  return items


def _override_string(override):
  def text(value):
    if isinstance(value, bool):
      return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
      return '[' + ','.join(text(v) for v in value) + ']'
    return str(value)
  return ','.join('%s=%s' % (k, text(v)) for k, v in _flatten(override))


def evaluate(experiment, config_files, model_dir, work_dir, override):
  """`train.py --mode=eval` of a copy of the checkpoint; returns metrics."""
  _copy_checkpoint(model_dir, work_dir)
  command = [sys.executable, os.path.join(demo_lib.REPO_ROOT, 'train.py'),
             '--experiment=' + experiment, '--mode=eval',
             '--model_dir=' + work_dir]
  command += ['--config_file=' + path for path in config_files]
  command.append('--params_override=' + _override_string(override))
  env = dict(os.environ)
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  subprocess.run(command, check=True, cwd=demo_lib.REPO_ROOT, env=env,
                 stdout=subprocess.DEVNULL)
  return demo_lib.latest_metrics(work_dir)['metrics']


def _merge(base, extra):
  for key, value in extra.items():
    if isinstance(value, dict):
      _merge(base.setdefault(key, {}), value)
    else:
      base[key] = value
  return base


def select(experiment, config_files, model_dir, holdout_annotations,
           holdout_input_path, factors=(0.8, 1.0, 1.25), flips=(False, True),
           max_cost=2.0, tolerance=0.01, evaluate_fn=evaluate):
  """Scores the candidates on the holdout; returns (chosen, all rows).

  Each row: `factor`, `flip`, `cost`, `score` (holdout mask AP50),
  `override` (the dict for the chosen YAML).
  """
  params = experiment_params.parse(experiment, config_files)
  parser = params.task.train_data.parser
  paths = {'task': {'annotation_file': holdout_annotations,
                    'validation_data': {'input_path': holdout_input_path}}}
  rows = []
  for factor, flip, cost in candidates(factors, flips, max_cost):
    override = candidate_override(parser, factor, flip)
    name = 'scale%g_flip%d' % (factor, int(flip))
    metrics = evaluate_fn(experiment, config_files, model_dir,
                          os.path.join(model_dir, 'holdout_selection', name),
                          _merge(_merge({}, paths), override))
    rows.append({'factor': factor, 'flip': flip, 'cost': cost,
                 'score': float(metrics[METRIC]), 'override': override})
    print('select_on_holdout: %s: holdout %s %.4f (cost %.2f)'
          % (name, METRIC, rows[-1]['score'], cost), flush=True)
  return choose(rows, tolerance), rows


def to_yaml(chosen, rows, holdout_annotations):
  """The chosen settings as YAML, every candidate's score as comments."""
  header = ['Test-time settings chosen on the held-back split %s'
            % holdout_annotations,
            '(highest %s, the cheapest within the tolerance); candidates:'
            % METRIC]
  header += ['  test scale x%g, flip %s: %.4f (cost %.2f)'
             % (r['factor'], r['flip'], r['score'], r['cost']) for r in rows]
  header.append('')
  reason = 'holdout %s %.4f at scale x%g, flip %s' % (
      METRIC, chosen['score'], chosen['factor'], chosen['flip'])
  settings = [(key, value, reason)
              for key, value in _flatten(chosen['override'])]
  return recipe_config.to_yaml(settings, header)


def define_flags(flag_values=flags.FLAGS):
  """The CLI's flags."""
  flags.DEFINE_string('model_dir', None, 'The trained model.',
                      flag_values=flag_values)
  flags.DEFINE_string('experiment', 'mnc_shapes_demo', 'As in training.',
                      flag_values=flag_values)
  flags.DEFINE_multi_string('config_file', None, 'As in training, in order.',
                            flag_values=flag_values)
  flags.DEFINE_string('holdout_annotations_file', None, 'holdout.json of '
                      'mnc_tf.data.holdout_split.', flag_values=flag_values)
  flags.DEFINE_string('holdout_input_path', None, 'TFRecords of the '
                      'held-back images.', flag_values=flag_values)
  flags.DEFINE_string('write_config', None, 'YAML for the chosen settings.',
                      flag_values=flag_values)
  flags.DEFINE_list('test_scales', ['0.8', '1', '1.25'], 'Test scale '
                    'factors (x the training scale).', flag_values=flag_values)
  flags.DEFINE_list('test_flip', ['false', 'true'], 'Test-time flip off / '
                    'on candidates.', flag_values=flag_values)
  flags.DEFINE_float('max_cost', 2.0, 'Skip candidates costing more single '
                     'passes at the training scale.', flag_values=flag_values)
  flags.DEFINE_float('tolerance', 0.01, 'Scores within this of the best '
                     'tie; the cheapest tied candidate wins.',
                     flag_values=flag_values)


def run(flag_values):
  """Scores, chooses, writes; returns 0 or 1."""
  required = ('model_dir', 'config_file', 'holdout_annotations_file',
              'holdout_input_path', 'write_config')
  missing = [n for n in required if not flag_values[n].value]
  if missing:
    print('select_on_holdout: error: --%s required' % ', --'.join(missing),
          file=sys.stderr)
    return 1
  try:
    factors = [float(v) for v in flag_values.test_scales]
    flips = [v.lower() in ('1', 'true', 'yes') for v in flag_values.test_flip]
    chosen, rows = select(
        flag_values.experiment, flag_values.config_file,
        flag_values.model_dir, flag_values.holdout_annotations_file,
        flag_values.holdout_input_path, factors, flips,
        flag_values.max_cost, flag_values.tolerance)
  except (SelectionError, experiment_params.ParamsError, ValueError) as e:
    print('select_on_holdout: error: %s' % e, file=sys.stderr)
    return 1
  except subprocess.CalledProcessError as e:
    print('select_on_holdout: error: the evaluation failed (%s)' % e,
          file=sys.stderr)
    return 1
  atomic_io.write_text(flag_values.write_config, to_yaml(
      chosen, rows, flag_values.holdout_annotations_file))
  print('select_on_holdout: chose test scale x%g, flip %s (holdout %s '
        '%.4f); wrote %s' % (chosen['factor'], chosen['flip'], METRIC,
                             chosen['score'], flag_values.write_config))
  return 0


def main(argv):
  return cli.main_on_fresh_flags('select_on_holdout', define_flags, run, argv)


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(run(flags.FLAGS)))
