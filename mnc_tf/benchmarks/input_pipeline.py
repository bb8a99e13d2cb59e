# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Benchmark of the training input pipeline on the synthetic shapes set.

    python -m mnc_tf.benchmarks.input_pipeline [--json] [--num_images=200]
        [--batches=60] [--input_path='DIR/train-*.tfrecord']
        [--settings=demo,paper,paper_full_masks]

Without `--input_path` it writes `--num_images` synthetic training images to
a temporary folder and converts them to 4 shards (both timed), then times
the training pipeline (`input_pipeline.build_dataset`, is_training=True:
read, decode, shuffle, flip, resize, normalise, pad, batch, prefetch) for
each setting below: `--warmup` batches are dropped, then `--batches` batches
are pulled `--runs` times; the table gives the median images/s.

Settings:
  demo:  scale 192, max_size 256, padded 256x256, 16 instances, batch 2
         (the `mnc_shapes_demo` experiment);
  paper: scale 600, max_size 1000, padded 1024x1024, 100 instances, batch 1
         (one replica of the paper's recipe; the synthetic images are
         upsampled to it), training masks as 112 x 112 instance crops (the
         default `mask_crop_size`);
  paper_full_masks: the same with full-image [100, 1024, 1024] masks
         (`mask_crop_size` 0, the pipeline before the crops).
`mask_bytes_per_image` is the size of one image's `gt_masks` as batched
(padded to max_num_instances).
"""

import json
import os
import statistics
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from mnc_tf.benchmarks import machine as machine_lib
from mnc_tf.configs import data as data_config
from mnc_tf.data import create_coco_tfrecord
from mnc_tf.data import input_pipeline
from mnc_tf.data import synthetic_shapes

SETTINGS = {
    'demo': dict(batch=2, parser=dict(scale=192, max_size=256,
                                      padded_size=[256, 256],
                                      max_num_instances=16)),
    'paper': dict(batch=1, parser=dict(scale=600, max_size=1000,
                                       max_num_instances=100,
                                       mask_crop_size=112)),
    'paper_full_masks': dict(batch=1, parser=dict(scale=600, max_size=1000,
                                                  max_num_instances=100,
                                                  mask_crop_size=0)),
}


def prepare_data(directory, num_images, seed=0):
  """Synthetic images -> 4 TFRecord shards; returns (pattern, timings)."""
  start = time.time()
  paths = synthetic_shapes.generate(directory, num_train=num_images,
                                    num_val=0, seed=seed)
  generated = time.time()
  create_coco_tfrecord.convert(os.path.join(directory, 'train'),
                               paths['train'],
                               os.path.join(directory, 'rec', 'train'),
                               num_shards=4, log_every=0)
  converted = time.time()
  return (os.path.join(directory, 'rec', 'train-*.tfrecord'),
          {'generate_images_per_s': num_images / (generated - start),
           'convert_images_per_s': num_images / (converted - generated)})


def time_setting(input_path, setting, warmup, batches, runs):
  """Median images/s of the training pipeline for one setting."""
  spec = SETTINGS[setting]
  params = data_config.DataConfig(
      input_path=input_path, is_training=True,
      global_batch_size=spec['batch'], shuffle_buffer_size=256,
      parser=data_config.Parser(**spec['parser']))
  dataset = input_pipeline.build_dataset(params.input_path, params)
  iterator = iter(dataset)
  for _ in range(warmup):
    next(iterator)
  rates = []
  for _ in range(runs):
    start = time.perf_counter()
    for _ in range(batches):
      images, labels = next(iterator)
    _ = images.shape
    rates.append(batches * spec['batch'] / (time.perf_counter() - start))
  mask_bytes = sum(int(np.prod(t.shape[1:])) * t.dtype.size
                   for t in tf.nest.flatten(labels['gt_masks']))
  parser = spec['parser']
  return {'setting': setting, 'batch_size': spec['batch'],
          'scale': parser['scale'], 'max_size': parser['max_size'],
          'padded_size': data_config.resolve_padded_size(
              data_config.Parser(**parser)),
          'max_num_instances': parser['max_num_instances'],
          'mask_crop_size': parser.get('mask_crop_size',
                                       data_config.Parser().mask_crop_size),
          'mask_bytes_per_image': mask_bytes,
          'images_per_s': statistics.median(rates),
          'runs_images_per_s': rates}


def define_flags(flag_values=flags.FLAGS):
  """The CLI's flags on `flag_values` (the CLI: absl's global FLAGS)."""
  define = dict(flag_values=flag_values)
  flags.DEFINE_bool('json', False, 'Print JSON only.', **define)
  flags.DEFINE_string('input_path', '',
                      'TFRecords to read (default: a synthetic set).', **define)
  flags.DEFINE_integer('num_images', 200, 'Synthetic images to write.',
                       lower_bound=1, **define)
  flags.DEFINE_list('settings', ['demo', 'paper', 'paper_full_masks'],
                    'Settings to time: %s.' % ', '.join(SETTINGS), **define)
  flags.DEFINE_integer('warmup', 10, 'Batches dropped before timing.',
                       lower_bound=0, **define)
  flags.DEFINE_integer('batches', 60, 'Batches per timed run.', lower_bound=1,
                       **define)
  flags.DEFINE_integer('runs', 3, 'Timed runs (median).', lower_bound=1,
                       **define)


def report(flag_values):
  """Runs the benchmark for parsed `flag_values`; returns the report dict."""
  unknown = [s for s in flag_values.settings if s not in SETTINGS]
  if unknown:
    raise ValueError('unknown --settings %s; known: %s' % (
        ', '.join(unknown), ', '.join(SETTINGS)))
  rep = {'machine': machine_lib.describe()}
  with tempfile.TemporaryDirectory() as tmp:
    input_path = flag_values.input_path
    if not input_path:
      input_path, rep['data'] = prepare_data(tmp, flag_values.num_images)
      rep['data']['num_images'] = flag_values.num_images
    rep['results'] = [
        time_setting(input_path, s, flag_values.warmup, flag_values.batches,
                     flag_values.runs) for s in flag_values.settings]
  return rep


def format_table(rep):
  """The human-readable table of a report."""
  machine = rep['machine']
  lines = ['Input pipeline (training) on %s, %s CPUs (load average %.1f at '
           'start), TF %s' % (machine['processor'], machine['cpu_count'],
                              machine['load_average_1min'],
                              machine['tensorflow'])]
  if 'data' in rep:
    lines.append('synthetic set: %d images, generated at %.0f images/s, '
                 'converted at %.0f images/s' % (
                     rep['data']['num_images'],
                     rep['data']['generate_images_per_s'],
                     rep['data']['convert_images_per_s']))
  lines.append('%-16s %6s %9s %10s %10s %5s %6s %10s %9s %11s' % (
      'name', 'scale', 'max_size', 'padded', 'instances', 'crop', 'batch',
      'images/s', 'ms/image', 'masks MB'))
  for r in rep['results']:
    lines.append('%-16s %6d %9d %10s %10d %5d %6d %10.1f %9.2f %11.2f' % (
        r['setting'], r['scale'], r['max_size'],
        '%dx%d' % tuple(r['padded_size']), r['max_num_instances'],
        r['mask_crop_size'], r['batch_size'], r['images_per_s'],
        1000.0 / r['images_per_s'], r['mask_bytes_per_image'] / 2 ** 20))
  return '\n'.join(lines)


def main(argv):
  """Parses `argv` (program name first) on fresh flags; returns the report.

  Raises:
    SystemExit(1) with a one-line message on bad flags.
  """
  flag_values = flags.FlagValues()
  define_flags(flag_values)
  try:
    flag_values(argv)
    return _print_report(flag_values)
  except (flags.Error, ValueError) as e:
    print(f'input_pipeline benchmark: error: {e}', file=sys.stderr)
    raise SystemExit(1) from e


def _print_report(flag_values):
  rep = report(flag_values)
  print(json.dumps(rep, indent=2) if flag_values.json else format_table(rep))
  return rep


if __name__ == '__main__':
  define_flags()

  def _main(argv):
    del argv
    try:
      _print_report(flags.FLAGS)
    except ValueError as e:
      print(f'input_pipeline benchmark: error: {e}', file=sys.stderr)
      return 1
    return 0

  app.run(lambda argv: sys.exit(_main(argv)))
