# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""The custom-data path on synthetic families it was never tuned on.

    python -m tools.robustness [--families=mixed,tiny,...] \
        [--output_dir=robustness_out] [--num_train=300] [--num_val=80] \
        [--train_steps=N] [--select_on=holdout] [--json]

For each family (`FAMILIES`: image sizes, instance sizes, aspect ratios,
class ids, instances per image and backgrounds that differ from each other
and from the demo), one command runs what a user runs on their own data:

  1. generate the images and COCO JSON (`synthetic_shapes.generate`);
  2. hold back part of the training images (`data.holdout_split`);
  3. convert fit / holdout / val to TFRecords (`create_coco_tfrecord`);
  4. derive the configuration from the fit annotations
     (`inspect --write_config`, the holdout as validation data);
  5. train `train.py --experiment=mnc_shapes_demo
     --config_file=<written yaml>` for the steps the YAML holds
     (`--train_steps` overrides them, moving the learning-rate drop along);
  6. with `--select_on=holdout`, choose the test scale / flip on the
     holdout (`select_on_holdout`);
  7. export the SavedModel and score it on the val images with
     pycocotools: mask AP50, mask AP, mask AR@100, box AP50, and the median
     ms per image of the exported model (after two warm-up images).

The table (and `--json`) has one row per family, with the training wall
minutes (the `train.py` process, start-up included).  Each family's record
also goes to `<output_dir>/<family>/result.json`.
"""

import json
import os
import subprocess
import sys
import time

from absl import app
from absl import flags
import numpy as np
from pycocotools import coco as coco_lib
from pycocotools import cocoeval

from tools import demo_lib
from tools import select_on_holdout
from mnc_tf.data import create_coco_tfrecord
from mnc_tf.data import holdout_split
from mnc_tf.data import image_io
from mnc_tf.data import inspect
from mnc_tf.data import recipe_config
from mnc_tf.data import recipe_schedule
from mnc_tf.data import synthetic_shapes
from mnc_tf.serving import predictor
from mnc_tf.utils import atomic_io
from mnc_tf.utils import cli


def _classes(pairs):
  return tuple({'id': i, 'name': n, 'supercategory': 'shape'}
               for i, n in pairs)


# generate_image options per family; none is the demo's set.
FAMILIES = {
    # Small images, tiny and large instances in one image, ids 3/7/11/20.
    'mixed': dict(synthetic_shapes.PRESETS['mixed']),
    # Large images (400-640 px), many tiny instances (4-18 px), textures.
    'tiny': dict(categories=_classes([(1, 'circle'), (2, 'square'),
                                      (5, 'star')]),
                 min_side=400, max_side=640, min_instances=6,
                 max_instances=20, object_px=(4.0, 18.0), sibling_prob=0.3,
                 max_occlusion=0.4, max_attempts=80, texture=True,
                 max_distractors=4, min_visible_fraction=0.3),
    # Few large instances (60-170 px) filling 240-400 px images, 2 classes.
    'large': dict(categories=_classes([(10, 'hexagon'), (40, 'ring')]),
                  min_side=240, max_side=400, min_instances=1,
                  max_instances=3, object_px=(60.0, 170.0), sibling_prob=0.3,
                  max_occlusion=0.3, max_attempts=60,
                  min_visible_fraction=0.5),
    # Elongated bars (4:1) among triangles and rings, textured backgrounds.
    'elongated': dict(categories=_classes([(2, 'bar'), (9, 'triangle'),
                                           (30, 'ring')]),
                      min_side=200, max_side=400, min_instances=2,
                      max_instances=8, object_px=(16.0, 80.0),
                      sibling_prob=0.3, max_occlusion=0.4, max_attempts=80,
                      texture=True, max_distractors=2,
                      min_visible_fraction=0.3),
    # Crowded: 12-30 placements of 8-32 px objects, 6 classes, ids to 60.
    'crowded': dict(categories=_classes([(1, 'circle'), (12, 'square'),
                                         (25, 'triangle'), (33, 'star'),
                                         (47, 'ring'), (60, 'hexagon')]),
                    min_side=256, max_side=384, min_instances=12,
                    max_instances=30, object_px=(8.0, 32.0),
                    sibling_prob=0.5, max_occlusion=0.5, max_attempts=150,
                    texture=True, max_distractors=3,
                    min_visible_fraction=0.3),
}
COLUMNS = ('mask_AP50', 'mask_AP', 'mask_AR100', 'box_AP50', 'train_min',
           'ms_per_image')
EXPERIMENT = inspect.WRITE_CONFIG_EXPERIMENT


def _run(command):
  env = dict(os.environ)
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  print(' '.join(command), flush=True)
  subprocess.run(command, check=True, cwd=demo_lib.REPO_ROOT, env=env)


def prepare_data(family, out, num_train, num_val, holdout_fraction, seed):
  """Steps 1-3; returns the paths (json files, TFRecord globs, image dirs)."""
  data_dir = os.path.join(out, 'shapes')
  json_paths = synthetic_shapes.generate(data_dir, num_train=num_train,
                                         num_val=num_val, seed=seed,
                                         **FAMILIES[family])
  with open(json_paths['train']) as f:
    fit, holdout = holdout_split.split(json.load(f), holdout_fraction, seed)
  paths = {'val_json': json_paths['val'],
           'val_images': os.path.join(data_dir, 'val')}
  for name, part in (('fit', fit), ('holdout', holdout)):
    paths[name + '_json'] = atomic_io.write_json(
        os.path.join(out, 'split', name + '.json'), part)
  for name, image_dir in (('fit', 'train'), ('holdout', 'train'),
                          ('val', 'val')):
    prefix = os.path.join(out, 'records', name)
    create_coco_tfrecord.convert(os.path.join(data_dir, image_dir),
                                 paths[name + '_json'], prefix,
                                 overwrite=True, log_every=10 ** 9)
    paths[name + '_records'] = prefix + '-*.tfrecord'
  return paths


def write_config(paths, out, max_input_side):
  """Step 4: `inspect --write_config` on the fit split."""
  config = os.path.join(out, 'my_data.yaml')
  status = inspect.main([
      'inspect', '--annotations_file=' + paths['fit_json'],
      '--write_config=' + config, '--max_input_side=%d' % max_input_side,
      '--train_input_path=' + paths['fit_records'],
      '--validation_input_path=' + paths['holdout_records'],
      '--validation_annotations_file=' + paths['holdout_json']])
  if status:
    raise RuntimeError('inspect --write_config failed for ' + out)
  return config


def steps_override(config, train_steps):
  """`--params_override` items that train `config` for `train_steps`."""
  params = inspect.experiment_params(EXPERIMENT, [config])
  return ['%s=%s' % (key, str(value).replace(' ', '')) for key, value, _ in
          recipe_schedule.schedule_settings(params.trainer, train_steps, '')]


def train(config, model_dir, train_steps):
  """Step 5; returns the wall seconds of the train.py process."""
  override = steps_override(config, train_steps) if train_steps else []
  command = [sys.executable, 'train.py', '--experiment=' + EXPERIMENT,
             '--config_file=' + config, '--mode=train',
             '--model_dir=' + model_dir]
  if override:
    command.append('--params_override=' + ','.join(override))
  start = time.time()
  _run(command)
  return time.time() - start


def export(config_files, model_dir, export_dir):
  """Step 7a: the SavedModel (image_tensor signature)."""
  _run([sys.executable, os.path.join('export', 'export_saved_model.py'),
        '--experiment=' + EXPERIMENT,
        '--checkpoint_path=' + model_dir, '--export_dir=' + export_dir,
        '--overwrite'] + ['--config_file=' + f for f in config_files])


def score(saved_model, val_json, image_dir, warmup=2):
  """Step 7b: pycocotools on the SavedModel's outputs; ms per image."""
  predict = predictor.saved_model_predictor(saved_model)
  gt = coco_lib.COCO(val_json)
  results, seconds = [], []
  for index, image_id in enumerate(sorted(gt.getImgIds())):
    info = gt.loadImgs(image_id)[0]
    image = image_io.read_rgb(os.path.join(image_dir, info['file_name']))
    if index < warmup:
      predict(image[None])
    start = time.perf_counter()
    outputs = predict(image[None])
    seconds.append(time.perf_counter() - start)
    one = {k: np.asarray(v)[0] for k, v in outputs.items()}
    results.extend(predictor.coco_results(image_id, one))
  row = {'ms_per_image': 1000.0 * float(np.median(seconds)),
         'detections': len(results)}
  for iou_type, prefix in (('segm', 'mask'), ('bbox', 'box')):
    if not results:
      stats = np.zeros(12)
    else:
      evaluator = cocoeval.COCOeval(gt, gt.loadRes(results), iou_type)
      evaluator.evaluate()
      evaluator.accumulate()
      evaluator.summarize()
      stats = evaluator.stats
    row[prefix + '_AP'] = float(stats[0])
    row[prefix + '_AP50'] = float(stats[1])
    row[prefix + '_AR100'] = float(stats[8])
  return row


def run_family(family, output_dir, num_train, num_val, train_steps,
               holdout_fraction, select_on, max_input_side, seed):
  """Steps 1-7 for one family; returns its record (also result.json)."""
  out = os.path.join(output_dir, family)
  paths = prepare_data(family, out, num_train, num_val, holdout_fraction,
                       seed)
  config = write_config(paths, out, max_input_side)
  model_dir = os.path.join(out, 'model')
  train_seconds = train(config, model_dir, train_steps)
  config_files = [config]
  chosen = None
  if select_on == 'holdout':
    test_config = os.path.join(out, 'my_test.yaml')
    status = select_on_holdout.main([
        'select_on_holdout', '--model_dir=' + model_dir,
        '--experiment=' + EXPERIMENT,
        '--holdout_annotations_file=' + paths['holdout_json'],
        '--holdout_input_path=' + paths['holdout_records'],
        '--write_config=' + test_config]
        + ['--config_file=' + f for f in config_files])
    if status:
      raise RuntimeError('select_on_holdout failed for ' + family)
    config_files.append(test_config)
    chosen = test_config
  saved_model = os.path.join(out, 'saved_model')
  export(config_files, model_dir, saved_model)
  record = {'family': family, 'train_min': train_seconds / 60.0,
            'config': config, 'test_config': chosen,
            'train_steps': train_steps or inspect.experiment_params(
                EXPERIMENT, [config]).trainer.train_steps}
  record.update(score(saved_model, paths['val_json'], paths['val_images']))
  atomic_io.write_json(os.path.join(out, 'result.json'), record, indent=1)
  return record


def format_table(rows):
  """The Markdown table of the records."""
  lines = ['| family | ' + ' | '.join(COLUMNS) + ' |',
           '|---' * (len(COLUMNS) + 1) + '|']
  for row in rows:
    cells = ['%.3f' % row[c] if c.startswith(('mask', 'box')) else
             '%.1f' % row[c] for c in COLUMNS]
    lines.append('| %s | %s |' % (row['family'], ' | '.join(cells)))
  return '\n'.join(lines)


def define_flags(flag_values=flags.FLAGS):
  """The CLI's flags."""
  flags.DEFINE_list('families', sorted(FAMILIES), 'Families to run.',
                    flag_values=flag_values)
  flags.DEFINE_string('output_dir', 'robustness_out', 'Work directory.',
                      flag_values=flag_values)
  flags.DEFINE_integer('num_train', 300, 'Training images per family (the '
                       'holdout comes out of them).', flag_values=flag_values)
  flags.DEFINE_integer('num_val', 80, 'Evaluation images per family.',
                       flag_values=flag_values)
  flags.DEFINE_integer('train_steps', 0, 'Training steps (0: those the '
                       'written YAML holds); the learning-rate decay '
                       'follows.',
                       flag_values=flag_values)
  flags.DEFINE_float('holdout_fraction', 0.15, 'Training images held back.',
                     flag_values=flag_values)
  flags.DEFINE_enum('select_on', 'none', ['none', 'holdout'], 'Choose the '
                    'test scale / flip on the holdout before export.',
                    flag_values=flag_values)
  flags.DEFINE_integer('max_input_side',
                       recipe_config.DEFAULT_MAX_INPUT_SIDE,
                       'Passed to inspect --write_config.',
                       flag_values=flag_values)
  flags.DEFINE_integer('seed', 0, 'Data seed.', flag_values=flag_values)
  flags.DEFINE_bool('json', False, 'Print the records as JSON.',
                    flag_values=flag_values)


def run(flag_values):
  """Runs the families; prints the table (or JSON); returns 0 or 1."""
  unknown = [f for f in flag_values.families if f not in FAMILIES]
  if unknown:
    print('robustness: error: unknown --families %s (known: %s)'
          % (unknown, ', '.join(sorted(FAMILIES))), file=sys.stderr)
    return 1
  rows = []
  for family in flag_values.families:
    rows.append(run_family(
        family, os.path.abspath(flag_values.output_dir),
        flag_values.num_train, flag_values.num_val, flag_values.train_steps,
        flag_values.holdout_fraction, flag_values.select_on,
        flag_values.max_input_side, flag_values.seed))
  print(json.dumps(rows, indent=1) if flag_values.json
        else format_table(rows), flush=True)
  return 0


def main(argv):
  return cli.main_on_fresh_flags('robustness', define_flags, run, argv)


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(run(flags.FLAGS)))
