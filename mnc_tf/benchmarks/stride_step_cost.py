# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Training-step cost of the demo's model at output stride 16, 8 and 4.

    python -m mnc_tf.benchmarks.stride_step_cost [--sizes=448,640] \
        [--rounds=4] [--steps_per_round=10] [--json]

For each square input side of `--sizes`, builds `mnc_shapes_demo` (batch 2,
its parser padding every image to side x side) three times, with the tiny
backbone at output stride 16, 8 and 4 and the proposal generator's pre-NMS
counts as `data.recipe_config` writes them for that stride, all reading the
same synthetic TFRecords.  After three warm-up steps each, the models take
turns, `--steps_per_round` training steps at a time for `--rounds` rounds,
so that a change in the machine's load reaches all three alike.  Prints the
median step seconds per stride and their ratios to stride 16 (compare
`data.recipe_schedule.STRIDE_8_RATIO` and `STRIDE_4_RATIO`, which are read
from whole training runs on an idle machine).
"""

import json
import statistics
import tempfile
import time

from absl import app
from absl import flags

from mnc_tf.benchmarks import synthetic_records

STRIDES = (16, 8, 4)
EXPERIMENT = 'mnc_shapes_demo'

flags.DEFINE_list('sizes', ['448', '640'], 'Square input sides (px).')
flags.DEFINE_integer('rounds', 4, 'Turns of each model.')
flags.DEFINE_integer('steps_per_round', 10, 'Timed steps per turn.')
flags.DEFINE_integer('num_images', 8, 'Synthetic images to write.')
flags.DEFINE_bool('json', False, 'Print one JSON object only.')
FLAGS = flags.FLAGS


def _nested(dotted):
  """{'a.b': v} -> {'a': {'b': v}}."""
  tree = {}
  for key, value in dotted.items():
    node = tree
    parts = key.split('.')
    for part in parts[:-1]:
      node = node.setdefault(part, {})
    node[parts[-1]] = value
  return tree


def stride_params(stride, side, input_path):
  """`mnc_shapes_demo` at `stride`, side x side inputs from `input_path`."""
  from official.modeling import hyperparams  # pylint: disable=g-import-not-at-top
  from mnc_tf.data import inspect  # pylint: disable=g-import-not-at-top
  from mnc_tf.data import recipe_config  # pylint: disable=g-import-not-at-top
  params = inspect.experiment_params(EXPERIMENT)
  model = params.task.model
  pre_nms = recipe_config.pre_nms_settings(
      model.proposal_generator, model.backbone.tiny.output_stride, stride)
  dotted = dict((key, value) for key, value, _ in pre_nms)
  dotted.update({
      'task.model.backbone.tiny.output_stride': stride,
      'task.train_data.input_path': input_path,
      'task.train_data.parser.scale': side,
      'task.train_data.parser.max_size': side,
      'task.train_data.parser.padded_size': [side, side],
      'task.train_data.parser.oriented_padding': False})
  return hyperparams.override_params_dict(params, _nested(dotted),
                                          is_strict=True)


def _runner(params):
  """A function that runs one training step and returns its seconds."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from official.core import task_factory  # pylint: disable=g-import-not-at-top
  from mnc_tf.tasks import mnc_task  # pylint: disable=g-import-not-at-top,unused-import
  task = task_factory.get_task(params.task)
  model = task.build_model()
  optimizer = task.create_optimizer(params.trainer.optimizer_config,
                                    params.runtime)
  dataset = task.build_inputs(params.task.train_data)
  metrics = task.build_metrics(training=True)
  iterator = iter(dataset.repeat())

  @tf.function(input_signature=[dataset.element_spec])
  def train_step(inputs):
    return task.train_step(inputs, model, optimizer, metrics=metrics)

  def step():
    inputs = next(iterator)
    start = time.perf_counter()
    float(train_step(inputs)[task.loss])
    return time.perf_counter() - start
  return step


def measure(side, input_path, rounds, steps_per_round, warmup=3):
  """{stride: median step seconds} at side x side, models interleaved."""
  steps = {stride: _runner(stride_params(stride, side, input_path))
           for stride in STRIDES}
  for step in steps.values():
    for _ in range(warmup):
      step()
  seconds = {stride: [] for stride in STRIDES}
  for _ in range(rounds):
    for stride, step in steps.items():
      seconds[stride] += [step() for _ in range(steps_per_round)]
  return {stride: statistics.median(s) for stride, s in seconds.items()}


def main(argv):
  del argv
  try:
    sizes = [int(s) for s in FLAGS.sizes]
  except ValueError:
    sizes = []
  if not sizes or min(sizes) < 16 or any(s % 16 for s in sizes):
    raise app.UsageError('--sizes must be multiples of 16, got %s'
                         % ','.join(FLAGS.sizes))
  result = {'experiment': EXPERIMENT, 'batch': None, 'sizes': {}}
  with tempfile.TemporaryDirectory() as directory:
    input_path = synthetic_records.prepare_data(directory, FLAGS.num_images)
    result['batch'] = int(stride_params(16, sizes[0], input_path)
                          .task.train_data.global_batch_size)
    for side in sizes:
      median = measure(side, input_path, FLAGS.rounds, FLAGS.steps_per_round)
      result['sizes'][str(side)] = {
          'step_seconds': {str(s): median[s] for s in STRIDES},
          'ratio_to_16': {str(s): median[s] / median[16] for s in STRIDES}}
      if not FLAGS.json:
        print('%d x %d: %s' % (side, side, ', '.join(
            'stride %d %.0f ms (x%.2f)' % (s, 1000 * median[s],
                                            median[s] / median[16])
            for s in STRIDES)))
  if FLAGS.json:
    print(json.dumps(result))


if __name__ == '__main__':
  app.run(main)
