# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""MNC vs Model Garden's Mask R-CNN: same data, backbone depth and steps.

    python -m mnc_tf.benchmarks.vs_maskrcnn \
        --train_input='out/hard_data/train-*.tfrecord' \
        --val_input='out/hard_data/val-*.tfrecord' \
        --annotation_file=out/hard/val.json --class_ids=1,2,4,7,10 \
        --train_steps=2500 --work_dir=/tmp/vs_maskrcnn \
        [--match_wall_time=mnc|maskrcnn] [--maskrcnn_roi_budget=mnc]
        [--mnc_experiment=mnc_resnet18_fpn_custom_data] [--resume] [--json]

Trains, from scratch and one after the other in this process, with the
same optimizer (SGD momentum 0.9, the custom-data recipe's learning rate,
warm-up, step decay at 80 % and gradient-norm clip), batch size and number
of steps:

  * MNC: the custom-data recipe (the registered experiment
    `mnc_custom_data`) with Model Garden's ResNet-18 cut after conv4
    (`backbone.resnet.model_id=18`, stride 16, batch norm trained); with
    `--mnc_experiment=mnc_resnet18_fpn_custom_data`, the same recipe on a
    ResNet-18 feature pyramid (Model Garden's FPN, levels 2-6, as the peer);
  * Mask R-CNN: Model Garden's `maskrcnn_resnetfpn_coco` with ResNet-18 and
    its FPN (levels 2-6), images resized to fit `--maskrcnn_size` square
    (the MNC recipe's longer side), no pretrained weights, no bfloat16 / XLA;
    by default (`--maskrcnn_roi_budget=mnc`) with the MNC recipe's RoI
    counts (64 RoIs sampled per training image, proposals, detections kept),
    its own heads otherwise; `--maskrcnn_roi_budget=model_garden` keeps
    Model Garden's COCO counts (512 RoIs, 2000 / 1000 proposals).

With `--match_wall_time=M`, model M is then trained once more, from
scratch, for as many steps as fit in the other model's train time at M's
measured pace (its first step, with the graph tracing, paid once; its
schedule scaled to those steps): the equal wall-clock comparison (`mnc`:
MNC gets the slower Mask R-CNN's time; `maskrcnn`: Mask R-CNN gets MNC's).
Each run writes `result.json` in its model dir; `--resume` reuses those of
the same steps and data.

All are then evaluated on the validation TFRecords by their tasks' COCO
evaluators (pycocotools on `--annotation_file`): mask AP / AP50 / APs, box
AP.  Train time is the wall time of the training steps (tracing included);
inference time is the evaluation's wall time per validation image (model
plus post-processing plus the evaluator's bookkeeping); `first_step_seconds`
in the JSON is the first step alone, tracing included.  Run it alone:
timings on a shared machine are only comparable within one run.
"""

import contextlib
import json
import math
import os
import sys
import time

from absl import app
from absl import flags
from absl import logging

from official.common import distribute_utils
from official.core import exp_factory
from official.core import task_factory
from official.core import train_lib
from official.core import train_utils
from official.vision import registry_imports  # pylint: disable=unused-import

from mnc_tf import registry_imports as mnc_registry  # pylint: disable=unused-import
from mnc_tf.utils import atomic_io
from mnc_tf.utils import cli

METRICS = ('mask_AP', 'mask_AP50', 'mask_APs', 'mask_APm', 'box_AP')
RESULT_FILE = 'result.json'
# The MNC recipes this comparison runs (`--mnc_experiment`).
MNC_EXPERIMENTS = ('mnc_custom_data', 'mnc_resnet18_fpn_custom_data')
MASKRCNN_EXPERIMENT = 'maskrcnn_resnetfpn_coco'


def _optimizer(train_steps, learning_rate, clipnorm):
  warmup = min(100, max(train_steps // 5, 1))
  return {
      'optimizer': {'type': 'sgd', 'sgd': {'momentum': 0.9,
                                           'global_clipnorm': clipnorm}},
      'learning_rate': {'type': 'stepwise', 'stepwise': {
          'boundaries': [max(int(train_steps * 0.8), warmup + 1)],
          'values': [learning_rate, learning_rate / 10]}},
      'warmup': {'type': 'linear', 'linear': {
          'warmup_steps': warmup, 'warmup_learning_rate': learning_rate / 4}},
  }


def _trainer(train_steps, val_steps, learning_rate, clipnorm):
  loop = min(100, train_steps)
  return {'train_steps': train_steps, 'validation_steps': val_steps,
          'validation_interval': train_steps, 'steps_per_loop': loop,
          'summary_interval': loop, 'checkpoint_interval': train_steps,
          'max_to_keep': 1,
          'optimizer_config': _optimizer(train_steps, learning_rate,
                                         clipnorm)}


def mnc_params(train_input, val_input, annotation_file, class_ids,
               train_steps, val_steps, batch_size, learning_rate,
               clipnorm=30.0, model_id=18, experiment='mnc_custom_data'):
  """The MNC experiment: the custom-data recipe with a ResNet trunk.

  `experiment` 'mnc_custom_data' runs the ResNet cut after conv4;
  'mnc_resnet18_fpn_custom_data' the ResNet and its FPN (`model_id` sets
  the depth of either).

  The recipe tests at 1.4x its training scale; Model Garden's Mask R-CNN has
  one input size for both, so MNC is tested here at its training scale too
  (padded to a `max_size` square, Mask R-CNN's input): one test scale for
  both models.  The recipe's test-time flip and extra test scales are off
  here too (Model Garden's Mask R-CNN has no test-time augmentation).
  """
  params = exp_factory.get_exp_config(experiment)
  train_parser = params.task.train_data.parser
  params.override({
      'task': {
          'annotation_file': annotation_file,
          'model': {'class_ids': list(class_ids),
                    'backbone': {'type': 'resnet', 'resnet': {
                        'model_id': model_id, 'freeze_batch_norm': False}},
                    'cascade': {'test_horizontal_flip': False,
                                'test_extra_scales': []}},
          'train_data': {'input_path': train_input,
                         'global_batch_size': batch_size},
          'validation_data': {'input_path': val_input,
                              'global_batch_size': batch_size,
                              'parser': {
                                  'scale': train_parser.scale,
                                  'max_size': train_parser.max_size,
                                  'padded_size': [train_parser.max_size] * 2}}},
      'trainer': _trainer(train_steps, val_steps, learning_rate, clipnorm),
  }, is_strict=True)
  return params


def mnc_label(mnc):
  """'MNC ResNet-18 C4' or 'MNC ResNet-18 FPN' for an MNC ExperimentConfig."""
  model = mnc.task.model
  trunk = 'FPN' if model.decoder.type == 'fpn' else 'C4'
  return 'MNC ResNet-%d %s' % (model.backbone.resnet.model_id, trunk)


def model_label(name, params):
  """The table's name of model `name` ('mnc' or 'maskrcnn') with `params`."""
  if name == 'mnc':
    return mnc_label(params)
  return 'Mask R-CNN ResNet-%d FPN' % params.task.model.backbone.resnet.model_id


def roi_budget(mnc):
  """The MNC experiment's RoI counts, as Mask R-CNN's config keys.

  Args:
    mnc: an MNC ExperimentConfig (`mnc_params`).

  Returns:
    A partial `task.model` override for `maskrcnn_resnetfpn_coco`: RoIs
    sampled per training image and their foreground share (so the masks
    trained per image, at most its foreground RoIs), boxes kept before /
    after the proposal NMS (training and inference) and detections kept per
    image.
  """
  model = mnc.task.model
  proposals = model.proposal_generator
  sampler = model.roi_sampler
  return {
      'roi_sampler': {'num_sampled_rois': sampler.num_samples,
                      'foreground_fraction': sampler.fg_fraction},
      'mask_sampler': {'num_sampled_masks': int(round(
          sampler.num_samples * sampler.fg_fraction))},
      'roi_generator': {'pre_nms_top_k': proposals.pre_nms_top_k,
                        'num_proposals': proposals.num_proposals,
                        'test_pre_nms_top_k': proposals.test_pre_nms_top_k,
                        'test_num_proposals': proposals.test_num_proposals},
      'detection_generator': {
          'max_num_detections': model.detection_generator.max_num_detections},
  }


def maskrcnn_params(train_input, val_input, annotation_file, class_ids,
                    train_steps, val_steps, batch_size, learning_rate,
                    image_size, max_num_instances, clipnorm=30.0,
                    model_id=18, budget=None):
  """Model Garden's Mask R-CNN (ResNet-FPN) on the same data, from scratch.

  Args:
    (...): as `mnc_params`; `image_size` is the input square's side.
    budget: None for Model Garden's RoI counts (512 sampled RoIs per image,
      2000 / 1000 proposals, 100 detections), or a `roi_budget(...)` dict.
  """
  params = exp_factory.get_exp_config(MASKRCNN_EXPERIMENT)
  params.override({
      'runtime': {'mixed_precision_dtype': 'float32', 'enable_xla': False,
                  'distribution_strategy': 'one_device', 'num_gpus': 0},
      'task': {
          'init_checkpoint': '', 'init_checkpoint_modules': '',
          'annotation_file': annotation_file,
          'model': {'num_classes': max(class_ids) + 1,
                    'input_size': [image_size, image_size, 3],
                    'backbone': {'type': 'resnet',
                                 'resnet': {'model_id': model_id}},
                    'norm_activation': {'use_sync_bn': False}},
          'losses': {'l2_weight_decay': 1e-4},
          'train_data': {'input_path': train_input,
                         'global_batch_size': batch_size,
                         'shuffle_buffer_size': 256,
                         'parser': {'aug_rand_hflip': True,
                                    'aug_scale_min': 1.0,
                                    'aug_scale_max': 1.0,
                                    'max_num_instances': max_num_instances}},
          'validation_data': {'input_path': val_input,
                              'global_batch_size': batch_size,
                              'drop_remainder': False}},
      'trainer': _trainer(train_steps, val_steps, learning_rate, clipnorm),
  }, is_strict=True)
  if budget:
    params.override({'task': {'model': budget}}, is_strict=True)
  return params


def train_and_evaluate(params, model_dir, runner_class):
  """Trains `params.trainer.train_steps` steps, then evaluates once.

  Returns:
    {'train_seconds', 'eval_seconds', metric: value ...}.
  """
  strategy = distribute_utils.get_distribution_strategy(
      distribution_strategy='one_device', num_gpus=0)
  with strategy.scope():
    task = task_factory.get_task(params.task, logging_dir=model_dir)
  train_utils.serialize_config(params, model_dir)
  # No TensorBoard summaries: MNC's evaluation logs carry pictures, which
  # Orbit's default summary writer would take for scalars.
  runner = runner_class(distribution_strategy=strategy, task=task,
                        mode='train_and_eval', params=params,
                        model_dir=model_dir, save_summary=False)
  start = time.time()
  with strategy.scope():
    # The first step alone (graph tracing included), then the rest.
    runner.controller.train(steps=1)
    first_step_seconds = time.time() - start
    runner.controller.train(steps=params.trainer.train_steps)
  train_seconds = time.time() - start
  start = time.time()
  with strategy.scope():
    logs = runner.controller.evaluate(steps=params.trainer.validation_steps)
  eval_seconds = time.time() - start
  result = {'train_seconds': train_seconds, 'eval_seconds': eval_seconds,
            'first_step_seconds': first_step_seconds}
  # Model Garden's COCO evaluator names the box metrics 'AP', 'AP50', ...
  aliases = {'box_AP': ('box_AP', 'AP')}
  for name in METRICS:
    for key in aliases.get(name, (name,)):
      if key in logs:
        result[name] = float(logs[key])
        break
  return result


def _finished_run(model_dir, record):
  """The result.json of an earlier run with the same `record`, or None."""
  try:
    with open(os.path.join(model_dir, RESULT_FILE)) as f:
      result = json.load(f)
  except (OSError, ValueError):
    return None
  if any(result.get(k) != v for k, v in record.items()):
    return None
  return result


def _num_images(annotation_file):
  with open(annotation_file) as f:
    return len(json.load(f)['images'])


def format_table(rows):
  """Markdown table of the results."""
  header = ('| model | steps | train s | inference s/image | mask AP | '
            'mask AP50 | mask APs | mask APm | box AP |')
  lines = [header, '|' + '---|' * 9]
  for name, r in rows.items():
    lines.append('| %s | %d | %.0f | %.3f | %s |' % (
        name, r['steps'], r['train_seconds'], r['inference_seconds'],
        ' | '.join('%.3f' % r[m] if m in r else 'n/a' for m in METRICS)))
  return '\n'.join(lines)


def define_flags(flag_values=flags.FLAGS):
  """The CLI's flags on `flag_values` (the CLI: absl's global FLAGS)."""
  define = dict(flag_values=flag_values)
  flags.DEFINE_string('train_input', None, 'Training TFRecord glob.', **define)
  flags.DEFINE_string('val_input', None, 'Validation TFRecord glob.',
                      **define)
  flags.DEFINE_string('annotation_file', None, 'Validation COCO JSON.',
                      **define)
  flags.DEFINE_list('class_ids', None, 'Data-set category ids.', **define)
  flags.DEFINE_integer('train_steps', 2500, 'Steps for each model.', **define)
  flags.DEFINE_integer('batch_size', 2, 'Images per step.', **define)
  flags.DEFINE_float('learning_rate', 0.004, 'Peak learning rate.', **define)
  flags.DEFINE_integer('maskrcnn_size', 448, 'Mask R-CNN input square.',
                       **define)
  flags.DEFINE_enum('maskrcnn_roi_budget', 'mnc', ['mnc', 'model_garden'],
                    'RoI counts of Mask R-CNN: "mnc" gives it the MNC '
                    'recipe\'s (RoIs sampled per training image, proposals '
                    'before / after NMS, detections kept), "model_garden" '
                    'keeps maskrcnn_resnetfpn_coco\'s (512 RoIs, 2000 / '
                    '1000 proposals: its 4-conv box and mask heads run on 8x '
                    'the RoIs, ~18 s a step on a 2-core CPU).', **define)
  flags.DEFINE_string('mnc_experiment', 'mnc_custom_data',
                      'The MNC recipe: mnc_custom_data (ResNet-18 conv4) '
                      'or mnc_resnet18_fpn_custom_data (ResNet-18 FPN).',
                      **define)
  flags.DEFINE_string('work_dir', '/tmp/mnc_vs_maskrcnn', 'Model dirs go '
                      'here (one per model).', **define)
  flags.DEFINE_list('models', ['mnc', 'maskrcnn'], 'Which models to run.',
                    **define)
  flags.DEFINE_enum('match_wall_time', '', ['', 'mnc', 'maskrcnn'],
                    'After both models trained --train_steps, train this '
                    'one again, from scratch, for as many steps as fit in '
                    'the OTHER model\'s train time at its own measured pace '
                    '(same schedule, scaled to those steps): the equal '
                    'wall-clock row.', **define)
  flags.DEFINE_bool('resume', False, 'Reuse a run whose result.json (written '
                    'in its model dir when it ends) has the same steps and '
                    'data, instead of training it again.', **define)
  flags.DEFINE_bool('json', False, 'Print JSON instead of the table.',
                    **define)


def equal_wall_steps(steps, own_seconds, budget_seconds, own_first_seconds):
  """Steps a model trains in `budget_seconds`, at its pace in a measured run.

  Args:
    steps: steps of the measured run (>= 2).
    own_seconds: its train time (graph tracing included, as the budget's).
    budget_seconds: the other model's train time.
    own_first_seconds: the measured run's first step (tracing included): it
      is paid once, the other steps at (own - first) / (steps - 1) each.

  Returns:
    int >= 1.
  """
  if steps < 2 or not own_seconds > own_first_seconds >= 0:
    raise ValueError('need steps >= 2 and own_seconds > own_first_seconds '
                     '>= 0, got %r, %r, %r' % (steps, own_seconds,
                                                own_first_seconds))
  pace = (own_seconds - own_first_seconds) / (steps - 1)
  return max(1, 1 + int(round((budget_seconds - own_first_seconds) / pace)))


def run(flag_values):
  """Runs the comparison for parsed `flag_values`; returns 0 or 1."""
  from mnc_tf.tasks import runner as mnc_runner  # pylint: disable=g-import-not-at-top
  missing = [n for n in ('train_input', 'val_input', 'annotation_file',
                         'class_ids') if not flag_values[n].value]
  if missing:
    print('vs_maskrcnn: error: --%s is required' % ', --'.join(missing),
          file=sys.stderr)
    return 1
  try:
    class_ids = [int(c) for c in flag_values.class_ids]
    num_val = _num_images(flag_values.annotation_file)
  except (ValueError, OSError, KeyError) as e:
    print('vs_maskrcnn: error: %s' % e, file=sys.stderr)
    return 1
  unknown = set(flag_values.models) - {'mnc', 'maskrcnn'}
  if unknown:
    print('vs_maskrcnn: error: unknown --models %s' % sorted(unknown),
          file=sys.stderr)
    return 1
  if flag_values.match_wall_time and set(flag_values.models) != {
      'mnc', 'maskrcnn'}:
    print('vs_maskrcnn: error: --match_wall_time needs both models in '
          '--models', file=sys.stderr)
    return 1
  val_steps = int(math.ceil(num_val / flag_values.batch_size))

  def common(steps):
    return (flag_values.train_input, flag_values.val_input,
            flag_values.annotation_file, class_ids, steps, val_steps,
            flag_values.batch_size, flag_values.learning_rate)
  experiment = flag_values.mnc_experiment
  if experiment not in MNC_EXPERIMENTS:
    print('vs_maskrcnn: error: --mnc_experiment must be one of %s, got %r'
          % (', '.join(MNC_EXPERIMENTS), experiment), file=sys.stderr)
    return 1
  mnc = mnc_params(*common(flag_values.train_steps), experiment=experiment)
  budget = None
  if flag_values.maskrcnn_roi_budget == 'mnc':
    budget = roi_budget(mnc)
  builders = {
      'mnc': lambda steps: (mnc_params(*common(steps), experiment=experiment),
                            mnc_runner.MncExperimentRunner),
      'maskrcnn': lambda steps: (maskrcnn_params(
          *common(steps), image_size=flag_values.maskrcnn_size,
          max_num_instances=32, budget=budget),
                                 train_lib.OrbitExperimentRunner)}
  names = {name: model_label(name, builders[name](flag_values.train_steps)[0])
           for name in ('mnc', 'maskrcnn')}
  runs = [(name, flag_values.train_steps, name, names[name])
          for name in flag_values.models]
  again = flag_values.match_wall_time
  if again:
    other = 'maskrcnn' if again == 'mnc' else 'mnc'
    # Its steps are known once both equal-step runs are done.
    runs.append((again, None, again + '_equal_wall',
                 "%s, %s's train time" % (names[again], names[other])))
  rows = {}
  for name, steps, directory, label in runs:
    if steps is None:
      own = rows[names[name]]
      steps = equal_wall_steps(
          flag_values.train_steps, own['train_seconds'],
          rows[names[other]]['train_seconds'], own['first_step_seconds'])
    model_dir = os.path.join(flag_values.work_dir, directory)
    record = {'steps': steps, 'train_input': flag_values.train_input,
              'val_input': flag_values.val_input,
              'batch_size': flag_values.batch_size,
              'learning_rate': flag_values.learning_rate}
    if name == 'maskrcnn':
      record['maskrcnn_roi_budget'] = flag_values.maskrcnn_roi_budget
    else:
      record['mnc_experiment'] = experiment
    result = _finished_run(model_dir, record) if flag_values.resume else None
    if result is None:
      params, runner_class = builders[name](steps)
      logging.info('vs_maskrcnn: %s (%d steps) -> %s', name, steps,
                   model_dir)
      # Orbit prints every train / eval output dict to stdout: to stderr
      # here, so that stdout is the table or the JSON alone.
      with contextlib.redirect_stdout(sys.stderr):
        result = train_and_evaluate(params, model_dir, runner_class)
      result.update(record)
      result['inference_seconds'] = result['eval_seconds'] / max(num_val, 1)
      atomic_io.write_json(os.path.join(model_dir, RESULT_FILE), result,
                           indent=1)
    rows[label] = result
    print('vs_maskrcnn: %s done: %s' % (label, json.dumps(result)),
          file=sys.stderr, flush=True)
  print(json.dumps(rows, indent=1) if flag_values.json
        else format_table(rows))
  return 0


def main(argv):
  """Parses `argv` (program name first) on fresh flags and runs."""
  return cli.main_on_fresh_flags('vs_maskrcnn', define_flags, run, argv)


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(run(flags.FLAGS)))
