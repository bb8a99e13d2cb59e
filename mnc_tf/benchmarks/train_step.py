# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Benchmark of one training step: MNC against Model Garden's Mask R-CNN.

    python -m mnc_tf.benchmarks.train_step --experiment=mnc_resnet50_coco \
        [--peer] [--json] [--breakdown] [--steps=4]

Writes `--num_images` synthetic shapes images of `--image_size` (default the
paper's 600 x 1000) to a temporary folder, converts them to COCO-format
TFRecords (`create_coco_tfrecord`), then runs, each in its OWN child process
(so each peak is its own) and one after the other (so they do not compete
for memory):
  mnc:  the experiment's task (`MncTask`), fed by our parser (shorter side
        600, longer <= 1000, padded as the experiment pads: the paper-scale
        experiments pad per orientation, 608 x 1008 / 1008 x 608
        (`parser.oriented_padding`), else a 1024 x 1024 square);
  peer: (with --peer) Model Garden's `maskrcnn_resnetfpn_coco` with the
        ResNet depth of the MNC experiment (50 for VGG-16), fed by Model
        Garden's decoder and parser from the same records, input size the
        content rounded up to its stride 64 (640 x 1024), no scale jitter.
Both: batch 1, float32, SGD, no pretrained weights.  A step is the task's
`train_step` (forward, losses, backward, optimizer update) under a
`tf.function` whose input signature is the dataset's element spec (as in a
trainer's loop: with oriented padding MNC sees [1, None, None, 3] and runs its
per-orientation `tf.cond`); its input batch is pulled from the pipeline
before the clock starts.  The first step (tracing) is excluded; `step_seconds` is the median
of the other `--steps - 1`.  Peak memory: the accelerator's
`tf.config.experimental.get_memory_info(...)['peak']` on a GPU, else the
child's peak resident set size (`ru_maxrss`, whole process: TF runtime,
model, input pipeline, step).

`--breakdown` also times the forward pass + losses alone (no tape) in the
same child, BEFORE the training steps: `backward_update_seconds` = step -
forward, and the peak RSS is read three times: after building the model
(TF runtime, input pipeline, model; `peak_rss_after_build_bytes`), after the
forward passes (+ the transient peak of one forward pass;
`peak_rss_after_forward_bytes`) and after the training steps (+ what a step
keeps for its backward pass, the gradients and the optimizer's slots).
On Linux the process's high-water mark is also reset after the first step
(`/proc/self/clear_refs`) and read after the others:
`steady_step_peak_rss_bytes` is the peak of the timed steps alone, without
the tracing and graph optimisation of the first; `rss_before_steady_bytes`
the resident set just before them (what a step's peak is built on).

`--json` prints one object:
  {"machine": {...}, "data": {...},
   "mnc": {"name", "step_seconds", "peak_memory_bytes", "memory_kind", ...},
   "peer": {"name", "step_seconds", "peak_memory_bytes", ...},  # --peer
   "ratios": {"step_seconds", "peak_memory_bytes"}}              # --peer
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from mnc_tf.benchmarks import machine as machine_lib
from mnc_tf.benchmarks import synthetic_records

_CHILDREN = ('mnc', 'peer')

flags.DEFINE_string('experiment', 'mnc_resnet50_coco',
                    'Registered MNC experiment to time.')
flags.DEFINE_bool('peer', False, 'Also time Model Garden\'s Mask R-CNN.')
flags.DEFINE_string('peer_experiment', 'maskrcnn_resnetfpn_coco',
                    'Model Garden experiment of the peer.')
flags.DEFINE_bool('json', False, 'Print one JSON object only.')
flags.DEFINE_bool('breakdown', False,
                  'Also time forward + losses alone (per-part breakdown).')
flags.DEFINE_integer('steps', 4, 'Steps per model; the first is excluded.')
flags.DEFINE_integer('num_images', 4, 'Synthetic images to write.')
flags.DEFINE_list('image_size', ['600', '1000'],
                  'height,width of the synthetic images.')
flags.DEFINE_integer('max_instances', 5,
                     'At most this many instances per synthetic image.')
flags.DEFINE_multi_string('params_override', [],
                          'Overrides (YAML or k=v,...) of the MNC experiment.')
flags.DEFINE_multi_string('peer_params_override', [],
                          'Overrides of the peer experiment.')
flags.DEFINE_string('input_path', '',
                    'TFRecords to read instead of the synthetic set.')
flags.DEFINE_enum('child', '', ('',) + _CHILDREN,
                  'Internal: run one model in this process.')
flags.DEFINE_integer('child_timeout', 1800, 'Seconds allowed per child.')

FLAGS = flags.FLAGS
_RESULT_PREFIX = 'TRAIN_STEP_RESULT '


def parse_image_size(values):
  """['600', '1000'] -> (600, 1000); a one-line error names the flag."""
  try:
    size = tuple(int(v) for v in values)
  except ValueError:
    size = ()
  if len(size) != 2 or min(size) < 16:
    raise app.UsageError('--image_size must be height,width (>= 16 each), '
                         'got %s' % ','.join(values))
  return size


def peak_memory():
  """(bytes, kind): GPU allocator peak if a GPU is visible, else peak RSS."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if tf.config.list_physical_devices('GPU'):
    return (int(tf.config.experimental.get_memory_info('GPU:0')['peak']),
            'gpu_peak')
  # ru_maxrss is in KiB on Linux.
  return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
          'cpu_peak_rss')


def _reset_peak_rss():
  """Resets the kernel's peak-RSS mark (VmHWM); False where unsupported."""
  try:
    with open('/proc/self/clear_refs', 'w') as f:
      f.write('5')
    return True
  except OSError:
    return False


def _proc_status_bytes(field):
  """A `kB` field of /proc/self/status in bytes (None where unavailable)."""
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith(field + ':'):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return None


def _peak_rss_since_reset():
  """VmHWM of /proc/self/status in bytes (None where unavailable)."""
  return _proc_status_bytes('VmHWM')


def current_rss():
  """VmRSS: the resident set now, in bytes (None where unavailable)."""
  return _proc_status_bytes('VmRSS')


def _resnet_depth(mnc_config):
  backbone = mnc_config.task.model.backbone
  if backbone.type == 'resnet':
    return int(backbone.resnet.model_id)
  return 50


def build_mnc(experiment, input_path, overrides):
  """(task, model, optimizer, dataset, name) of an MNC experiment."""
  from official.core import exp_factory  # pylint: disable=g-import-not-at-top
  from official.core import task_factory  # pylint: disable=g-import-not-at-top
  from official.modeling import hyperparams  # pylint: disable=g-import-not-at-top
  from mnc_tf.configs import mnc_experiments  # pylint: disable=g-import-not-at-top,unused-import
  from mnc_tf.tasks import mnc_task  # pylint: disable=g-import-not-at-top,unused-import
  config = exp_factory.get_exp_config(experiment)
  for override in overrides:
    config = hyperparams.override_params_dict(config, override, is_strict=True)
  config.task.model.init_checkpoint = ''
  config.task.init_checkpoint = ''
  data = config.task.train_data
  data.input_path = input_path
  data.global_batch_size = 1
  data.shuffle_buffer_size = 8
  data.seed = 0
  config.runtime.mixed_precision_dtype = 'float32'
  task = task_factory.get_task(config.task)
  model = task.build_model()
  optimizer = task.create_optimizer(config.trainer.optimizer_config,
                                    config.runtime)
  return task, model, optimizer, task.build_inputs(data), experiment


def build_peer(peer_experiment, depth, image_size, input_path, overrides):
  """(task, model, optimizer, dataset, name) of Model Garden's Mask R-CNN."""
  from official.core import exp_factory  # pylint: disable=g-import-not-at-top
  from official.core import task_factory  # pylint: disable=g-import-not-at-top
  from official.modeling import hyperparams  # pylint: disable=g-import-not-at-top
  from official.vision import registry_imports  # pylint: disable=g-import-not-at-top,unused-import
  config = exp_factory.get_exp_config(peer_experiment)
  stride = 2 ** config.task.model.max_level
  input_size = [-(-s // stride) * stride for s in image_size]
  config.task.model.input_size = input_size + [3]
  config.task.model.backbone.resnet.model_id = depth
  config.task.init_checkpoint = ''
  data = config.task.train_data
  data.input_path = input_path
  data.global_batch_size = 1
  data.shuffle_buffer_size = 8
  data.seed = 0
  data.parser.aug_scale_min = 1.0
  data.parser.aug_scale_max = 1.0
  config.runtime.mixed_precision_dtype = 'float32'
  config.runtime.enable_xla = False
  for override in overrides:
    config = hyperparams.override_params_dict(config, override, is_strict=True)
  task = task_factory.get_task(config.task)
  model = task.build_model()
  optimizer = task.create_optimizer(config.trainer.optimizer_config,
                                    config.runtime)
  name = '%s (ResNet-%d, input %dx%d)' % (peer_experiment, depth,
                                          input_size[0], input_size[1])
  return task, model, optimizer, task.build_inputs(data), name


def time_steps(task, model, optimizer, dataset, steps, breakdown):
  """Times `task.train_step` (and, with breakdown, the forward pass)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  metrics = task.build_metrics(training=True)

  @tf.function(input_signature=[dataset.element_spec])
  def train_step(inputs):
    return task.train_step(inputs, model, optimizer, metrics=metrics)

  iterator = iter(dataset)
  result = {}
  if breakdown:
    result.update(_time_forward(task, model, iterator, steps))
    result['peak_rss_after_forward_bytes'] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
  seconds = []
  reset = False
  for step in range(steps):
    inputs = next(iterator)
    if step == 1:
      # What stays resident between steps (weights, momentum, runtime,
      # memory freed but kept by the C allocator) under the steady peak.
      result['rss_before_steady_bytes'] = current_rss()
      reset = _reset_peak_rss()
    start = time.perf_counter()
    logs = train_step(inputs)
    loss = float(logs[task.loss])
    seconds.append(time.perf_counter() - start)
  if reset:
    result['steady_step_peak_rss_bytes'] = _peak_rss_since_reset()
  memory, kind = peak_memory()
  result.update({
      'step_seconds': statistics.median(seconds[1:]),
      'step_seconds_all': seconds,
      'first_step_seconds': seconds[0],
      'peak_memory_bytes': memory, 'memory_kind': kind,
      'last_loss': loss,
      'num_parameters': int(sum(
          v.shape.num_elements() for v in model.trainable_variables))})
  if breakdown:
    result['backward_update_seconds'] = (result['step_seconds']
                                         - result['forward_loss_seconds'])
  return result


def _time_forward(task, model, iterator, steps):
  """Median seconds of forward + losses (no tape), first call excluded."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  @tf.function
  def forward(inputs):
    images, labels = inputs
    if hasattr(task, '_forward_train'):
      outputs = task._forward_train(model, images, labels)  # pylint: disable=protected-access
      losses = task.build_losses(outputs, labels, aux_losses=model.losses)
    else:  # Model Garden's Mask R-CNN.
      outputs = model(images, image_shape=labels['image_info'][:, 1, :],
                      anchor_boxes=labels['anchor_boxes'],
                      gt_boxes=labels['gt_boxes'],
                      gt_classes=labels['gt_classes'],
                      gt_masks=labels.get('gt_masks'), training=True)
      outputs = tf.nest.map_structure(
          lambda x: tf.cast(x, tf.float32), outputs)
      losses = task.build_losses(outputs, labels, aux_losses=model.losses)
    return losses['total_loss']
  forward_seconds = []
  for _ in range(steps):
    inputs = next(iterator)
    start = time.perf_counter()
    float(forward(inputs))
    forward_seconds.append(time.perf_counter() - start)
  return {'forward_loss_seconds': statistics.median(forward_seconds[1:])}


def run_child(which):
  """Builds and times one model in this process; prints its JSON line."""
  import tf_keras  # pylint: disable=g-import-not-at-top
  tf_keras.utils.set_random_seed(0)
  if which == 'mnc':
    built = build_mnc(FLAGS.experiment, FLAGS.input_path,
                      FLAGS.params_override)
  else:
    from official.core import exp_factory  # pylint: disable=g-import-not-at-top
    from mnc_tf.configs import mnc_experiments  # pylint: disable=g-import-not-at-top,unused-import
    depth = _resnet_depth(exp_factory.get_exp_config(FLAGS.experiment))
    built = build_peer(FLAGS.peer_experiment, depth,
                       parse_image_size(FLAGS.image_size), FLAGS.input_path,
                       FLAGS.peer_params_override)
  task, model, optimizer, dataset, name = built
  rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
  result = time_steps(task, model, optimizer, dataset, FLAGS.steps,
                      FLAGS.breakdown)
  result['name'] = name
  result['peak_rss_after_build_bytes'] = rss_built
  print(_RESULT_PREFIX + json.dumps(result), flush=True)


def spawn_child(which, input_path, argv_flags):
  """Runs `which` in a child process; returns its result dict."""
  command = [sys.executable, '-m', 'mnc_tf.benchmarks.train_step',
             '--child=' + which, '--input_path=' + input_path] + argv_flags
  env = dict(os.environ)
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  process = subprocess.run(command, capture_output=True, text=True, env=env,
                           timeout=FLAGS.child_timeout, check=False)
  for line in process.stdout.splitlines():
    if line.startswith(_RESULT_PREFIX):
      return json.loads(line[len(_RESULT_PREFIX):])
  tail = (process.stderr or process.stdout or '').strip().splitlines()[-15:]
  raise RuntimeError('the %s child failed (exit %d):\n%s' % (
      which, process.returncode, '\n'.join(tail)))


def _child_flags():
  out = ['--experiment=' + FLAGS.experiment,
         '--peer_experiment=' + FLAGS.peer_experiment,
         '--steps=%d' % FLAGS.steps,
         '--image_size=' + ','.join(FLAGS.image_size),
         '--breakdown=%s' % FLAGS.breakdown]
  out += ['--params_override=' + p for p in FLAGS.params_override]
  out += ['--peer_params_override=' + p for p in FLAGS.peer_params_override]
  return out


def _print_table(report):
  machine = report['machine']
  print('Training step, batch 1, on %s, %s CPUs (load average %.1f at start)'
        % (machine['processor'], machine['cpu_count'],
           machine['load_average_1min']))
  print('data: %s' % report['data'])
  print('%-62s %10s %14s %12s %12s' % ('model', 'step (s)', 'peak mem (GB)',
                                       'forward (s)', 'bwd+upd (s)'))
  for key in _CHILDREN:
    if key in report:
      r = report[key]
      print('%-62s %10.2f %14.2f %12s %12s' % (
          r['name'][:62], r['step_seconds'], r['peak_memory_bytes'] / 1e9,
          '%.2f' % r['forward_loss_seconds'] if 'forward_loss_seconds' in r
          else '-',
          '%.2f' % r['backward_update_seconds']
          if 'backward_update_seconds' in r else '-'))
  if 'ratios' in report:
    print('MNC / peer: step time %.2fx, peak memory %.2fx' % (
        report['ratios']['step_seconds'],
        report['ratios']['peak_memory_bytes']))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError('unexpected arguments: %s' % ' '.join(argv[1:]))
  if FLAGS.steps < 2:
    raise app.UsageError('--steps must be >= 2 (the first is excluded), got '
                         '%d' % FLAGS.steps)
  image_size = parse_image_size(FLAGS.image_size)
  if FLAGS.child:
    run_child(FLAGS.child)
    return 0
  report = {'machine': machine_lib.describe()}
  with tempfile.TemporaryDirectory(prefix='mnc_train_step_') as tmp:
    input_path = FLAGS.input_path
    if not input_path:
      start = time.time()
      input_path = synthetic_records.prepare_data(
          tmp, FLAGS.num_images, image_size, FLAGS.max_instances)
      report['data'] = {'num_images': FLAGS.num_images,
                        'image_size': list(image_size),
                        'max_instances': FLAGS.max_instances,
                        'prepare_seconds': time.time() - start}
    else:
      report['data'] = {'input_path': input_path}
    children = ['mnc'] + (['peer'] if FLAGS.peer else [])
    for which in children:  # One at a time: each peak is its own.
      report[which] = spawn_child(which, input_path, _child_flags())
  report['mnc']['experiment'] = FLAGS.experiment
  if FLAGS.peer:
    report['ratios'] = {
        k: report['mnc'][k] / report['peer'][k]
        for k in ('step_seconds', 'peak_memory_bytes')}
  if FLAGS.json:
    print(json.dumps(report, indent=2))
  else:
    _print_table(report)
  return 0


if __name__ == '__main__':
  app.run(main)
