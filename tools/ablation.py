# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Ablation in the paper's spirit (Table 1 c/d, the box gradient, settings).

Demo mode (the default):

    python -m tools.ablation [--train_steps=3000] [--repeats=1]

trains `mnc_shapes_demo` on the demo's synthetic set (made as `make demo`
makes it). Your own COCO-format TFRecords with a recipe:

    python -m tools.ablation --experiment=mnc_custom_data \
        --config_file=paths.yaml --train_steps=950 --repeats=3 \
        --variants=0,1,2,4 --output_dir=ablation_out

(`--experiment` + `--config_file`s as in the flagfile you train with, e.g.
`configs/mnc_custom_data.flags`; `paths.yaml` sets the data paths, class ids
and `task.annotation_file`; `--params_override=a.b=v,...` is applied before
each variant's own override). The learning-rate schedule scales with
`--train_steps`: boundaries at 80 % of the steps in demo mode, otherwise the
experiment's own boundary / step ratios (stepwise) or decay / step ratio
(cosine, as the custom-data recipe).

Variants (`--variants`, indices into VARIANTS): 3-stage vs 5-stage training,
the gradient through the box coordinates on vs off (inference always uses 5
stages, as in the paper) and the training settings used before the original
release's (`configs/experiments/previous_training_settings.yaml` applied
after the experiment's files). Each variant is trained and evaluated on the
validation split; a Markdown table (mean +- sample standard deviation over
`--repeats` independent, unseeded runs, and the wall / CPU time per run) goes
to `--table_file` (default `<output_dir>/ablation/ablation.md`; the docs link
the tables under `docs/results/`) after every run, each run's record to
`<run dir>/run.json`. `--resume` reuses finished runs (same command), so a cut
ablation continues where it stopped. Runs go in repeat-major order (every
variant's first run, then every variant's second, ...), so a cut ablation has
the same number of runs per row.

A repository tool: run from the repository root (`python -m tools.ablation`);
it trains with `train.py` in a subprocess.
"""
import collections
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

from absl import app
from absl import flags

from mnc_tf.utils import atomic_io
from tools import demo_lib

Variant = collections.namedtuple(
    'Variant', ['name', 'stages', 'box_gradient', 'config_files'])
PREVIOUS_SETTINGS = os.path.join('configs', 'experiments',
                                 'previous_training_settings.yaml')
VARIANTS = (  # name, stages trained, box gradient, extra config files
    Variant('5-stage, box gradient on', 5, True, ()),
    Variant('5-stage, box gradient off', 5, False, ()),
    Variant('3-stage, box gradient on', 3, True, ()),
    Variant('3-stage, box gradient off', 3, False, ()),
    Variant('previous training settings (5-stage, box gradient on)', 5, True,
            (PREVIOUS_SETTINGS,)),
)
DEMO_VARIANTS = ('0', '1', '2', '3')
DEMO_METRICS = ('mAPr50', 'mAPr70', 'mask_AP50')
CUSTOM_METRICS = ('mask_AP50', 'mask_AP', 'mask_APs', 'mAPr50', 'mAPr70')
HEADERS = {'mAPr50': 'mAP^r@0.5', 'mAPr70': 'mAP^r@0.7',
           'mask_AP50': 'mask AP50 (COCO)', 'mask_AP': 'mask AP',
           'mask_APs': 'mask APs'}
METRICS = DEMO_METRICS  # the demo table's columns (kept for callers)
DEMO_BOUNDARY_FRACTION = 0.8


def run_dir_name(variant, repeat):
  """`stages5_boxgrad1_run0`, `previous_` first for extra settings.

  The name does not depend on `--repeats`, so `--resume` with more repeats
  reuses the runs an earlier, shorter ablation finished.
  """
  prefix = 'previous_' if variant.config_files else ''
  return (f'{prefix}stages{variant.stages}_boxgrad{int(variant.box_gradient)}'
          f'_run{repeat}')


def variant_override(variant, train_steps, schedule):
  """The `--params_override` entries that make `variant` at `train_steps`.

  `schedule`: the learning-rate entries of `schedule_override`.
  """
  return [
      f'task.model.cascade.num_train_stages={variant.stages}',
      f'task.model.cascade.box_gradient={str(variant.box_gradient).lower()}',
      f'trainer.train_steps={train_steps}',
      f'trainer.validation_interval={train_steps}',
  ] + list(schedule)


def stepwise_override(boundaries):
  """The override entry that sets a stepwise schedule's boundaries."""
  return ['trainer.optimizer_config.learning_rate.stepwise.boundaries=['
          + ','.join(str(b) for b in boundaries) + ']']


def scaled_boundaries(boundaries, recipe_steps, train_steps):
  """The recipe's lr boundaries moved to the same fractions of `train_steps`.

  Raises:
    app.UsageError: a boundary that would land at step 0 or past the end.
  """
  scaled = [int(round(b * train_steps / recipe_steps)) for b in boundaries]
  if any(not 0 < b < train_steps for b in scaled):
    raise app.UsageError(
        f'--train_steps={train_steps}: the learning-rate boundaries '
        f'{list(boundaries)} of {recipe_steps} steps scale to {scaled}, '
        'outside 1..train_steps - 1; give more steps.')
  return scaled


def schedule_override(learning_rate, recipe_steps, train_steps):
  """Override entries that fit the recipe's lr schedule to `train_steps`.

  A stepwise schedule keeps its boundaries at the same fractions of the
  steps, a cosine one its `decay_steps`; a constant one needs nothing.

  Args:
    learning_rate: the resolved `trainer.optimizer_config.learning_rate`.
    recipe_steps: the recipe's `trainer.train_steps`.
    train_steps: the ablation's `--train_steps`.

  Raises:
    app.UsageError: another schedule type, or boundaries that do not fit.
  """
  if learning_rate.type == 'stepwise':
    return stepwise_override(scaled_boundaries(
        learning_rate.stepwise.boundaries, recipe_steps, train_steps))
  if learning_rate.type == 'cosine':
    decay = max(1, int(round(
        learning_rate.cosine.decay_steps * train_steps / recipe_steps)))
    return [f'trainer.optimizer_config.learning_rate.cosine.decay_steps='
            f'{decay}']
  if learning_rate.type == 'constant':
    return []
  raise app.UsageError(
      f'learning-rate schedule {learning_rate.type!r}: the ablation scales '
      'stepwise, cosine or constant schedules to --train_steps; use one of '
      'those in the recipe.')


class Plan:
  """How to train one variant: the train.py flags shared by every run."""

  def __init__(self, base_flags, base_override, schedule):
    self.base_flags = list(base_flags)
    self.base_override = list(base_override)
    self.schedule = list(schedule)

  def command(self, variant, model_dir, train_steps):
    override = self.base_override + variant_override(
        variant, train_steps, self.schedule)
    return ([sys.executable, os.path.join(demo_lib.REPO_ROOT, 'train.py')]
            + self.base_flags
            + [f'--config_file={os.path.join(demo_lib.REPO_ROOT, f)}'
               for f in variant.config_files]
            + [f'--model_dir={model_dir}', '--mode=train_and_eval',
               '--params_override=' + ','.join(override)])


def demo_plan(output_dir, num_train, num_val, train_steps):
  """Makes the demo's data (if missing) and trains with its flagfile."""
  paths = demo_lib.make_data(output_dir, num_train, num_val, seed=0)
  override = [f"task.annotation_file='{paths['val_json']}'",
              f"task.train_data.input_path='{paths['train_pattern']}'",
              f"task.validation_data.input_path='{paths['val_pattern']}'"]
  flagfile = os.path.join(demo_lib.REPO_ROOT, 'configs', 'mnc_shapes_demo.flags')
  return Plan([f'--flagfile={flagfile}'], override, stepwise_override(
      [int(train_steps * DEMO_BOUNDARY_FRACTION)]))


def custom_plan(experiment, config_files, params_override, variants,
                train_steps):
  """Checks every variant's params (nothing trained yet) and scales the lr.

  Raises:
    app.UsageError: an unknown experiment or key, a missing file or input, or
      boundaries that do not fit `train_steps`; one line naming the culprit.
  """
  # pylint: disable=g-import-not-at-top,unused-import
  from mnc_tf import registry_imports  # registers the experiments
  from mnc_tf.configs import experiment_params
  # pylint: enable=g-import-not-at-top,unused-import
  config_files = [os.path.abspath(f) for f in config_files]
  params = None
  for variant in variants:
    files = config_files + [os.path.join(demo_lib.REPO_ROOT, f)
                            for f in variant.config_files]
    try:
      resolved = experiment_params.parse(
          experiment, files, params_override, mode='train_and_eval')
    except experiment_params.ParamsError as e:
      raise app.UsageError(f'variant {variant.name!r}: {e}') from e
    if params is None:
      params = resolved
  schedule = schedule_override(params.trainer.optimizer_config.learning_rate,
                               params.trainer.train_steps, train_steps)
  base_flags = [f'--experiment={experiment}'] + [
      f'--config_file={f}' for f in config_files]
  return Plan(base_flags, [params_override] if params_override else [],
              schedule)


def _children_cpu_seconds():
  usage = resource.getrusage(resource.RUSAGE_CHILDREN)
  return usage.ru_utime + usage.ru_stime


def run_training(command):
  """Runs train.py (a separate process, TF logs silenced)."""
  env = dict(os.environ)
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  print(' '.join(command), flush=True)
  subprocess.run(command, check=True, cwd=demo_lib.REPO_ROOT, env=env)


def run_variant(plan, variant, model_dir, train_steps, resume=False):
  """Trains and evaluates one run of `variant`; returns its record.

  Returns:
    dict: `metrics` (the final evaluation), `wall_s`, `cpu_s` (user + sys of
    the training process), `load_start` / `load_end` (1-min load averages),
    `step`, `command`.
  """
  command = plan.command(variant, model_dir, train_steps)
  record_path = os.path.join(model_dir, 'run.json')
  if resume and os.path.exists(record_path):
    with open(record_path) as f:
      record = json.load(f)
    if record['command'] == command[1:]:
      return record
  shutil.rmtree(model_dir, ignore_errors=True)
  load_start, cpu_start, start = os.getloadavg()[0], _children_cpu_seconds(), \
      time.time()
  run_training(command)
  latest = demo_lib.latest_metrics(model_dir)
  record = {'metrics': latest['metrics'], 'step': latest['step'],
            'wall_s': time.time() - start,
            'cpu_s': _children_cpu_seconds() - cpu_start,
            'load_start': load_start, 'load_end': os.getloadavg()[0],
            'command': command[1:]}
  atomic_io.write_json(record_path, record, indent=1)
  return record


def _cell(values, scale=100, digits=1):
  """'m' for one run, 'm ± s' (sample std) for several, times `scale`."""
  values = [scale * v for v in values]
  if len(values) == 1:
    return f'{values[0]:.{digits}f}'
  return (f'{statistics.mean(values):.{digits}f} ± '
          f'{statistics.stdev(values):.{digits}f}')


def markdown_table(rows, command, metrics=DEMO_METRICS):
  """Markdown table of (variant name, [record per run]) rows.

  A record is a metrics dict (name -> value in [0, 1]) or `run_variant`'s
  record; the time columns appear when every run has `wall_s` / `cpu_s`.
  """
  def metrics_of(run):
    return run.get('metrics', run)
  timed = all('wall_s' in run for _, runs in rows for run in runs)
  header = ['training', 'runs'] + [HEADERS[key] for key in metrics]
  if timed:
    header += ['wall min / run', 'CPU min / run', 'load (1 min)']
  lines = ['| ' + ' | '.join(header) + ' |',
           '|' + '---|' * len(header)]
  for name, runs in rows:
    cells = [_cell([metrics_of(run)[key] for run in runs]) for key in metrics]
    if timed:
      cells += [_cell([run['wall_s'] for run in runs], 1 / 60),
                _cell([run['cpu_s'] for run in runs], 1 / 60)]
      loads = [v for run in runs for v in (run['load_start'], run['load_end'])]
      cells.append(f'{min(loads):.1f}–{max(loads):.1f}')
    lines.append(f'| {name} | {len(runs)} | ' + ' | '.join(cells) + ' |')
  lines += ['', f'Made by `{command}`.']
  return '\n'.join(lines) + '\n'


def define_flags(flag_values=flags.FLAGS):
  """Defines the ablation's flags (called by `__main__`, as Model Garden does)."""
  flags.DEFINE_string('output_dir', demo_lib.DEFAULT_OUTPUT_DIR,
                      'Runs go under <output_dir>/ablation; demo mode also '
                      'makes / reuses the demo data there.',
                      flag_values=flag_values)
  flags.DEFINE_string('experiment', None,
                      'A registered experiment to train on your own data '
                      '(with --config_file); unset: the demo.',
                      flag_values=flag_values)
  flags.DEFINE_multi_string('config_file', None,
                            'YAML files applied in order after --experiment '
                            '(the recipe, then your data paths / class ids).',
                            flag_values=flag_values)
  flags.DEFINE_string('params_override', '',
                      'Comma-separated a.b=v entries applied after the '
                      'files (with --experiment).', flag_values=flag_values)
  flags.DEFINE_integer('num_train', 1000, 'Demo: synthetic training images.',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_integer('num_val', 50, 'Demo: synthetic validation images.',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_integer('train_steps', 3000, 'Training steps per run.',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_integer('repeats', 1, 'Independent training runs per variant.',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_bool('resume', False,
                    'Reuse runs that finished with the same command '
                    '(<run dir>/run.json) instead of training them again.',
                    flag_values=flag_values)
  flags.DEFINE_string('table_file', None,
                      'Where the Markdown table goes (rewritten after every '
                      'run); default <output_dir>/ablation/ablation.md.',
                      flag_values=flag_values)
  flags.DEFINE_list('variants', list(DEMO_VARIANTS),
                    'Comma-separated indices into VARIANTS to run: '
                    + '; '.join(f'{i}: {v.name}'
                                for i, v in enumerate(VARIANTS)),
                    flag_values=flag_values)


def chosen_variants(indices):
  """VARIANTS entries for a list of index strings.

  Raises:
    app.UsageError: an index that is not an integer in range.
  """
  chosen = []
  for index in indices:
    if not index.strip().isdigit() or int(index) >= len(VARIANTS):
      raise app.UsageError(
          f'--variants: {index!r} is not an index in 0..{len(VARIANTS) - 1} '
          f'({"; ".join(f"{i}: {v.name}" for i, v in enumerate(VARIANTS))})')
    chosen.append(VARIANTS[int(index)])
  return chosen


def _command_line(flag_values):
  """The command that reproduces this ablation, for the table's footnote."""
  parts = ['python -m tools.ablation']
  if flag_values.experiment:
    parts.append(f'--experiment={flag_values.experiment}')
    parts += [f'--config_file={f}' for f in flag_values.config_file or []]
    if flag_values.params_override:
      parts.append(f'--params_override={flag_values.params_override}')
  else:
    parts.append(f'--num_train={flag_values.num_train}')
  parts += [f'--train_steps={flag_values.train_steps}',
            f'--repeats={flag_values.repeats}',
            f'--variants={",".join(flag_values.variants)}']
  return ' '.join(parts)


def main(argv, flag_values=flags.FLAGS):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  chosen = chosen_variants(flag_values.variants)
  if not chosen:
    raise app.UsageError('--variants: give at least one index.')
  repeats, train_steps = flag_values.repeats, flag_values.train_steps
  output_dir = os.path.abspath(flag_values.output_dir)
  if flag_values.experiment:
    plan = custom_plan(flag_values.experiment, flag_values.config_file or [],
                       flag_values.params_override, chosen, train_steps)
    metrics = CUSTOM_METRICS
  else:
    if flag_values.config_file or flag_values.params_override:
      raise app.UsageError('--config_file / --params_override need '
                           '--experiment (demo mode uses the demo flagfile).')
    plan = demo_plan(output_dir, flag_values.num_train, flag_values.num_val,
                     train_steps)
    metrics = DEMO_METRICS
  command = _command_line(flag_values)
  table_path = (os.path.abspath(flag_values.table_file)
                if flag_values.table_file
                else os.path.join(output_dir, 'ablation', 'ablation.md'))
  results = collections.OrderedDict((v.name, []) for v in chosen)
  for repeat in range(repeats):
    for variant in chosen:
      model_dir = os.path.join(output_dir, 'ablation',
                               run_dir_name(variant, repeat))
      record = run_variant(plan, variant, model_dir, train_steps,
                           resume=flag_values.resume)
      results[variant.name].append(record)
      print(f'ablation: {variant.name} (run {repeat + 1}/{repeats}): '
            + ' '.join(f'{key} {record["metrics"][key]:.3f}'
                       for key in metrics)
            + f' ({record["wall_s"]:.0f} s wall, {record["cpu_s"]:.0f} s CPU)',
            flush=True)
      table = markdown_table([row for row in results.items() if row[1]],
                             command, metrics)
      atomic_io.write_text(table_path, table)
  print(table)
  print(f'ablation: table written to {table_path}', flush=True)
  return 0


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(main(argv)))
