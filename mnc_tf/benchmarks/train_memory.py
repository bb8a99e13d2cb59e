# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Where the bytes of a training step go: the step with parts switched off.

    python -m mnc_tf.benchmarks.train_memory --experiment=mnc_vgg16_voc \
        [--variants=full,gradients,forward,no_l2,...] [--allocator=bfc] \
        [--steps=3] [--params_override=...] [--json]

Writes the same synthetic COCO-format records as `train_step` and runs each
variant in its OWN child process (one after the other), batch 1, float32:

  full:        the task's `train_step` (forward, losses, backward, update);
  gradients:   forward, losses and gradients, each gradient reduced to a
               scalar as soon as it exists (no optimizer: no update, no
               momentum slots);
  forward:     forward + losses, no tape;
  no_l2:       `full` with `task.losses.l2_weight_decay=0` (no weight decay
               term in the loss, so no weight-sized L2 gradients);
  inter_op_1:  `full` with `inter_op_parallelism_threads=1` (one op at a
               time);
  stages_3:    `full` with `cascade.num_train_stages=3` (no stages 4-5: the
               fc6 / fc7 weights are used once);
  frozen_fc:   `full` with the fc6 / fc7 layers of the classifier head not
               trained (no fc gradients, no fc momentum).

Each child reports the peak RSS of its steady steps (the kernel's
high-water mark reset after the first step) and, with `--allocator=bfc`
(`TF_CPU_ALLOCATOR_USE_BFC=true`, the CPU allocator keeps statistics), the
allocator's bytes in use after building and its peak over the steady steps:
the live tensor bytes, without the allocator's caching or glibc's
fragmentation.  Only differences between variants of one run mean much.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from mnc_tf.benchmarks import machine as machine_lib
from mnc_tf.benchmarks import synthetic_records
from mnc_tf.benchmarks import train_step as train_step_lib

VARIANTS = ('full', 'gradients', 'forward', 'no_l2', 'inter_op_1',
            'stages_3', 'frozen_fc')
_OVERRIDES = {
    'no_l2': 'task.losses.l2_weight_decay=0.0',
    'stages_3': 'task.model.cascade.num_train_stages=3',
}

# --experiment, --steps, --num_images, --image_size, --max_instances,
# --params_override, --json and --input_path are train_step's flags.
flags.DEFINE_list('variants', list(VARIANTS), 'Variants to run, in order.')
flags.DEFINE_enum('allocator', 'bfc', ('bfc', 'default'),
                  'bfc: TF_CPU_ALLOCATOR_USE_BFC=true (allocator stats).')
flags.DEFINE_string('variant', '', 'Internal: run this variant here.')
FLAGS = flags.FLAGS
_PREFIX = 'TRAIN_MEMORY_RESULT '


def _allocator_stats():
  """(current, peak) bytes of the CPU allocator, or (None, None)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    info = tf.config.experimental.get_memory_info('CPU:0')
  except ValueError:  # Not the BFC allocator: no statistics.
    return None, None
  return int(info['current']), int(info['peak'])


def _reset_allocator_peak():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    tf.config.experimental.reset_memory_stats('CPU:0')
  except ValueError:
    pass


def _step_function(variant, task, model, optimizer, dataset):
  """The tf.function one step of `variant` runs."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  metrics = task.build_metrics(training=True)
  if variant == 'forward':
    def step(inputs):
      images, labels = inputs
      return task._train_losses(model, images, labels)['total_loss']  # pylint: disable=protected-access
  elif variant == 'gradients':
    def step(inputs):
      losses, grads = task.compute_loss_and_gradients(inputs, model)
      # Each gradient is consumed (and can be freed) as soon as it exists.
      return losses['total_loss'] + tf.add_n(
          [tf.reduce_sum(g) * 0.0 for g in grads if g is not None])
  else:
    def step(inputs):
      return task.train_step(inputs, model, optimizer,
                             metrics=metrics)[task.loss]
  return tf.function(step, input_signature=[dataset.element_spec])


def run_child(variant):
  """Builds the experiment with `variant`'s changes, times its steps."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf_keras  # pylint: disable=g-import-not-at-top
  if variant == 'inter_op_1':
    tf.config.threading.set_inter_op_parallelism_threads(1)
  tf_keras.utils.set_random_seed(0)
  overrides = list(FLAGS.params_override)
  if variant in _OVERRIDES:
    overrides.append(_OVERRIDES[variant])
  task, model, optimizer, dataset, _ = train_step_lib.build_mnc(
      FLAGS.experiment, FLAGS.input_path, overrides)
  if variant == 'frozen_fc':
    frozen = [m for m in model.submodules
              if getattr(m, 'name', '').startswith(('fc6', 'fc7'))]
    if not frozen:
      raise ValueError('frozen_fc: the model has no fc6 / fc7 layers')
    for layer in frozen:
      layer.trainable = False
  step = _step_function(variant, task, model, optimizer, dataset)
  iterator = iter(dataset)
  result = {'variant': variant}
  result['allocator_after_build_bytes'] = _allocator_stats()[0]
  result['rss_after_build_bytes'] = (
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
  seconds = []
  for i in range(FLAGS.steps):
    inputs = next(iterator)
    if i == 1:
      train_step_lib._reset_peak_rss()  # pylint: disable=protected-access
      _reset_allocator_peak()
      result['allocator_before_steady_bytes'] = _allocator_stats()[0]
      result['rss_before_steady_bytes'] = train_step_lib.current_rss()
    start = time.perf_counter()
    float(step(inputs))
    seconds.append(time.perf_counter() - start)
  result['steady_peak_rss_bytes'] = train_step_lib._peak_rss_since_reset()  # pylint: disable=protected-access
  result['allocator_steady_peak_bytes'] = _allocator_stats()[1]
  result['peak_rss_bytes'] = (
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
  result['step_seconds'] = sorted(seconds[1:])[(len(seconds) - 2) // 2]
  result['num_trainable_parameters'] = int(sum(
      v.shape.num_elements() for v in model.trainable_variables))
  print(_PREFIX + json.dumps(result), flush=True)


def _spawn(variant, input_path):
  env = dict(os.environ)
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  if FLAGS.allocator == 'bfc':
    env['TF_CPU_ALLOCATOR_USE_BFC'] = 'true'
  command = [sys.executable, '-m', 'mnc_tf.benchmarks.train_memory',
             '--variant=' + variant, '--input_path=' + input_path,
             '--experiment=' + FLAGS.experiment, '--steps=%d' % FLAGS.steps]
  command += ['--params_override=' + p for p in FLAGS.params_override]
  process = subprocess.run(command, capture_output=True, text=True, env=env,
                           check=False)
  for line in process.stdout.splitlines():
    if line.startswith(_PREFIX):
      return json.loads(line[len(_PREFIX):])
  tail = (process.stderr or '').strip().splitlines()[-15:]
  raise RuntimeError('variant %s failed (exit %d):\n%s' % (
      variant, process.returncode, '\n'.join(tail)))


def _gb(value):
  return '-' if value is None else '%.2f' % (value / 1e9)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError('unexpected arguments: %s' % ' '.join(argv[1:]))
  unknown = [v for v in FLAGS.variants if v not in VARIANTS]
  if unknown:
    raise app.UsageError('--variants: unknown %s (known: %s)' % (
        ','.join(unknown), ','.join(VARIANTS)))
  if FLAGS.steps < 2:
    raise app.UsageError('--steps must be >= 2, got %d' % FLAGS.steps)
  if FLAGS.variant:
    run_child(FLAGS.variant)
    return 0
  image_size = train_step_lib.parse_image_size(FLAGS.image_size)
  report = {'machine': machine_lib.describe(), 'allocator': FLAGS.allocator,
            'experiment': FLAGS.experiment, 'variants': []}
  with tempfile.TemporaryDirectory(prefix='mnc_train_memory_') as tmp:
    input_path = synthetic_records.prepare_data(
        tmp, FLAGS.num_images, image_size, FLAGS.max_instances)
    for variant in FLAGS.variants:
      report['variants'].append(_spawn(variant, input_path))
      if not FLAGS.json:
        r = report['variants'][-1]
        print('%-11s step %6.2f s  RSS before steps %s GB, steady peak %s GB'
              '  allocator: after build %s GB, steady peak %s GB  '
              '(%d trainable)' % (
                  variant, r['step_seconds'],
                  _gb(r['rss_before_steady_bytes']),
                  _gb(r['steady_peak_rss_bytes']),
                  _gb(r['allocator_after_build_bytes']),
                  _gb(r['allocator_steady_peak_bytes']),
                  r['num_trainable_parameters']), flush=True)
  if FLAGS.json:
    print(json.dumps(report, indent=2))
  return 0


if __name__ == '__main__':
  app.run(main)
