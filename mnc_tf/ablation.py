# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Ablation in the paper's spirit (Table 1 c/d and the box gradient).

    python -m mnc_tf.ablation [--train_steps=3000] [--repeats=1] [--update_readme]

Trains `mnc_shapes_demo` on the demo's synthetic set (made as `make demo`
makes it) with 3-stage vs 5-stage training and with the gradient through the
box coordinates on vs off (inference always uses 5 stages, as in the paper),
evaluates each on the validation split and writes a Markdown table of mAP^r
at mask IoU 0.5 / 0.7 (SDS protocol) and COCO mask AP50 to
`<output_dir>/ablation/ablation.md`; `--update_readme` also puts it into
README.md between the `ablation:start` / `ablation:end` markers.
`--repeats=N` trains every variant N times from fresh random initializations
(training is not seeded: runs differ) and reports mean +- sample standard
deviation, so that differences can be told from run-to-run noise.
"""
import os
import shutil
import statistics
import sys
import time

from absl import app
from absl import flags

from mnc_tf import demo_lib
from mnc_tf.utils import atomic_io

VARIANTS = (  # name, stages trained, box gradient
    ('5-stage, box gradient on', 5, True),
    ('5-stage, box gradient off', 5, False),
    ('3-stage, box gradient on', 3, True),
    ('3-stage, box gradient off', 3, False),
)
START, END = '<!-- ablation:start -->', '<!-- ablation:end -->'


def run_variant(paths, model_dir, stages, box_gradient, train_steps):
  """Trains and evaluates one variant; returns its latest metrics."""
  shutil.rmtree(model_dir, ignore_errors=True)
  boundary = int(train_steps * 0.8)
  override = ','.join([
      f'task.model.cascade.num_train_stages={stages}',
      f'task.model.cascade.box_gradient={str(box_gradient).lower()}',
      f'trainer.validation_interval={train_steps}',
      f'trainer.optimizer_config.learning_rate.stepwise.boundaries=[{boundary}]',
  ])
  demo_lib.train_and_evaluate(paths, model_dir, train_steps, override)
  return demo_lib.latest_metrics(model_dir)['metrics']


METRICS = ('mAPr50', 'mAPr70', 'mask_AP50')


def _cell(values):
  """'m' for one run, 'm ± s' (sample std) for several, in percent."""
  values = [100 * v for v in values]
  if len(values) == 1:
    return f'{values[0]:.1f}'
  return f'{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}'


def markdown_table(rows, command):
  """Markdown table of (variant name, [metrics dict per run]) rows."""
  lines = ['| training | runs | mAP^r@0.5 | mAP^r@0.7 | mask AP50 (COCO) |',
           '|---|---|---|---|---|']
  for name, runs in rows:
    cells = [_cell([run[key] for run in runs]) for key in METRICS]
    lines.append(f'| {name} | {len(runs)} | ' + ' | '.join(cells) + ' |')
  lines += ['', f'Made by `{command}`.']
  return '\n'.join(lines) + '\n'


def update_readme(readme, table):
  """Replaces the text between the ablation markers (written atomically)."""
  with open(readme) as f:
    text = f.read()
  if START not in text or END not in text:
    raise ValueError(f'{readme} lacks the {START} / {END} markers.')
  head, rest = text.split(START, 1)
  _, tail = rest.split(END, 1)
  atomic_io.write_text(readme, head + START + '\n' + table + END + tail)


def define_flags(flag_values=flags.FLAGS):
  """Defines the ablation's flags (called by `__main__`, as Model Garden does)."""
  flags.DEFINE_string('output_dir', demo_lib.DEFAULT_OUTPUT_DIR,
                      'The demo directory: data reused from there, runs under '
                      '<output_dir>/ablation.', flag_values=flag_values)
  flags.DEFINE_integer('num_train', 1000, 'Synthetic training images.',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_integer('num_val', 50, 'Synthetic validation images.',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_integer('train_steps', 3000, 'Training steps per run.',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_integer('repeats', 1, 'Independent training runs per variant.',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_bool('update_readme', False,
                    'Also write the table into README.md between the '
                    'ablation markers.', flag_values=flag_values)
  flags.DEFINE_list('variants', [str(i) for i in range(len(VARIANTS))],
                    'Comma-separated indices into VARIANTS to run.',
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
          f'({"; ".join(f"{i}: {v[0]}" for i, v in enumerate(VARIANTS))})')
    chosen.append(VARIANTS[int(index)])
  return chosen


def main(argv, flag_values=flags.FLAGS):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  chosen = chosen_variants(flag_values.variants)
  repeats, train_steps = flag_values.repeats, flag_values.train_steps
  output_dir = os.path.abspath(flag_values.output_dir)
  paths = demo_lib.make_data(output_dir, flag_values.num_train,
                             flag_values.num_val, seed=0)
  rows = []
  for name, stages, box_gradient in chosen:
    runs = []
    for repeat in range(repeats):
      start = time.time()
      model_dir = os.path.join(
          output_dir, 'ablation',
          f'stages{stages}_boxgrad{int(box_gradient)}'
          + (f'_run{repeat}' if repeats > 1 else ''))
      metrics = run_variant(paths, model_dir, stages, box_gradient,
                            train_steps)
      runs.append(metrics)
      print(f'ablation: {name} (run {repeat + 1}/{repeats}): mAPr50 '
            f'{metrics["mAPr50"]:.3f} mAPr70 {metrics["mAPr70"]:.3f} '
            f'({time.time() - start:.0f} s)', flush=True)
    rows.append((name, runs))
  command = ('python -m mnc_tf.ablation --train_steps=%d --num_train=%d '
             '--repeats=%d --update_readme'
             % (train_steps, flag_values.num_train, repeats))
  table = markdown_table(rows, command)
  atomic_io.write_text(os.path.join(output_dir, 'ablation', 'ablation.md'),
                       table)
  print(table)
  if flag_values.update_readme:
    update_readme(os.path.join(demo_lib.REPO_ROOT, 'README.md'), table)
  return 0


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(main(argv)))
