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
import argparse
import json
import os
import shutil
import statistics
import sys
import time

from mnc_tf import demo

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
  demo.train_and_evaluate(paths, model_dir, train_steps, override)
  with open(os.path.join(model_dir, 'eval_metrics.json')) as f:
    return json.load(f)['latest']['metrics']


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
  with open(readme + '.tmp', 'w') as f:
    f.write(head + START + '\n' + table + END + tail)
  os.replace(readme + '.tmp', readme)


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m mnc_tf.ablation',
                                   description=__doc__.split('\n\n')[0])
  parser.add_argument('--output_dir', default=os.path.join(demo.REPO_ROOT,
                                                           'demo_out'))
  parser.add_argument('--num_train', type=int, default=1000)
  parser.add_argument('--num_val', type=int, default=50)
  parser.add_argument('--train_steps', type=int, default=3000)
  parser.add_argument('--repeats', type=int, default=1,
                      help='independent training runs per variant')
  parser.add_argument('--update_readme', action='store_true')
  parser.add_argument('--variants', default='0,1,2,3',
                      help='indices into VARIANTS to run')
  args = parser.parse_args(sys.argv[1:] if argv is None else argv)
  if args.repeats < 1:
    parser.error(f'--repeats must be >= 1, got {args.repeats}')
  output_dir = os.path.abspath(args.output_dir)
  paths = demo.make_data(output_dir, args.num_train, args.num_val, seed=0)
  rows = []
  chosen = [VARIANTS[int(i)] for i in args.variants.split(',')]
  for name, stages, box_gradient in chosen:
    runs = []
    for repeat in range(args.repeats):
      start = time.time()
      model_dir = os.path.join(
          output_dir, 'ablation',
          f'stages{stages}_boxgrad{int(box_gradient)}'
          + (f'_run{repeat}' if args.repeats > 1 else ''))
      metrics = run_variant(paths, model_dir, stages, box_gradient,
                            args.train_steps)
      runs.append(metrics)
      print(f'ablation: {name} (run {repeat + 1}/{args.repeats}): mAPr50 '
            f'{metrics["mAPr50"]:.3f} mAPr70 {metrics["mAPr70"]:.3f} '
            f'({time.time() - start:.0f} s)', flush=True)
    rows.append((name, runs))
  command = ('python -m mnc_tf.ablation --train_steps=%d --num_train=%d '
             '--repeats=%d --update_readme'
             % (args.train_steps, args.num_train, args.repeats))
  table = markdown_table(rows, command)
  path = os.path.join(output_dir, 'ablation', 'ablation.md')
  with open(path, 'w') as f:
    f.write(table)
  print(table)
  if args.update_readme:
    update_readme(os.path.join(demo.REPO_ROOT, 'README.md'), table)
  return 0


if __name__ == '__main__':
  sys.exit(main())
