# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Benchmark of the training input pipeline on the synthetic shapes set.

    python -m mnc_tf.benchmarks.input_pipeline [--json] [--num_images 200]
        [--batches 60] [--input_path 'DIR/train-*.tfrecord']

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
         upsampled to it).
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

import tensorflow as tf

from mnc_tf.configs import data as data_config
from mnc_tf.data import create_coco_tfrecord
from mnc_tf.data import input_pipeline
from mnc_tf.data import synthetic_shapes

SETTINGS = {
    'demo': dict(batch=2, parser=dict(scale=192, max_size=256,
                                      padded_size=[256, 256],
                                      max_num_instances=16)),
    'paper': dict(batch=1, parser=dict(scale=600, max_size=1000,
                                       max_num_instances=100)),
}


def machine_description():
  model = ''
  try:
    with open('/proc/cpuinfo') as f:
      model = next((line.split(':', 1)[1].strip() for line in f
                    if line.startswith('model name')), '')
  except OSError:
    pass
  return {'platform': platform.platform(),
          'processor': model or platform.processor() or platform.machine(),
          'cpu_count': os.cpu_count(),
          'load_average_1min': os.getloadavg()[0],
          'tensorflow': tf.__version__}


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
      images, _ = next(iterator)
    _ = images.shape
    rates.append(batches * spec['batch'] / (time.perf_counter() - start))
  parser = spec['parser']
  return {'setting': setting, 'batch_size': spec['batch'],
          'scale': parser['scale'], 'max_size': parser['max_size'],
          'padded_size': data_config.resolve_padded_size(
              data_config.Parser(**parser)),
          'max_num_instances': parser['max_num_instances'],
          'images_per_s': statistics.median(rates),
          'runs_images_per_s': rates}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--json', action='store_true', help='print JSON only')
  parser.add_argument('--input_path', default='',
                      help='TFRecords to read (default: synthetic set)')
  parser.add_argument('--num_images', type=int, default=200)
  parser.add_argument('--settings', default='demo,paper')
  parser.add_argument('--warmup', type=int, default=10)
  parser.add_argument('--batches', type=int, default=60)
  parser.add_argument('--runs', type=int, default=3)
  args = parser.parse_args(argv)

  report = {'machine': machine_description()}
  with tempfile.TemporaryDirectory() as tmp:
    input_path = args.input_path
    if not input_path:
      input_path, report['data'] = prepare_data(tmp, args.num_images)
      report['data']['num_images'] = args.num_images
    report['results'] = [
        time_setting(input_path, s.strip(), args.warmup, args.batches,
                     args.runs) for s in args.settings.split(',')]
  if args.json:
    print(json.dumps(report, indent=2))
    return 0
  machine = report['machine']
  print('Input pipeline (training) on %s, %s CPUs (load average %.1f at '
        'start), TF %s' % (machine['processor'], machine['cpu_count'],
                           machine['load_average_1min'],
                           machine['tensorflow']))
  if 'data' in report:
    print('synthetic set: %d images, generated at %.0f images/s, converted '
          'at %.0f images/s' % (report['data']['num_images'],
                                report['data']['generate_images_per_s'],
                                report['data']['convert_images_per_s']))
  print('%-6s %6s %9s %12s %10s %6s %10s %9s' % (
      'name', 'scale', 'max_size', 'padded', 'instances', 'batch',
      'images/s', 'ms/image'))
  for r in report['results']:
    print('%-6s %6d %9d %12s %10d %6d %10.1f %9.2f' % (
        r['setting'], r['scale'], r['max_size'],
        '%dx%d' % tuple(r['padded_size']), r['max_num_instances'],
        r['batch_size'], r['images_per_s'], 1000.0 / r['images_per_s']))
  return 0


if __name__ == '__main__':
  raise SystemExit(main())
