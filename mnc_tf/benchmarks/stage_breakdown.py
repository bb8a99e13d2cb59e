# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Where MNC loses to Mask R-CNN: per stage and instance size.

    python -m mnc_tf.benchmarks.stage_breakdown --work_dir=/tmp/vs_maskrcnn \
        [--mnc_dir=DIR] [--maskrcnn_dir=DIR] [--max_images=N] \
        [--allow_unfinished] [--json]

Loads the finished runs of `python -m mnc_tf.benchmarks.vs_maskrcnn`
(`<work_dir>/mnc` and `<work_dir>/maskrcnn`, each with its `params.yaml` and
checkpoint; `--mnc_dir` / `--maskrcnn_dir` take runs from other work dirs),
runs each model on the validation TFRecords and COCO annotation file of its
own run (its test-proposal count and detections kept included), and prints
one table row per model and COCO size range (`all`, `small`, `medium`,
`large`, by the instance's COCO `area`):

* proposal R@0.5 / R@0.7: share of the instances that one of the RPN's
  proposals overlaps at box IoU >= 0.5 / 0.7 (MNC: the `rpn_rois` its
  cascade starts from; Mask R-CNN: the RoIs of its `roi_generator`);
* box AP / AP50, mask AP / AP50 of the final detections (pycocotools);
* box-matched: instances a detection of their class matches at box IoU
  >= 0.5 (COCOeval's greedy matching); mask IoU | box: those detections'
  mean mask IoU with their instance; mask IoU>=0.5 | box: the share of them
  whose mask would also match at 0.5 (is the mask worse given a good box?).

The counting is in `stage_breakdown_metrics`; this module only runs models.
"""

import json
import os
import sys

from absl import app
from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf
import yaml

from official.core import exp_factory
from official.core import task_factory
from official.vision import registry_imports  # pylint: disable=unused-import
from official.vision.ops import mask_ops

from mnc_tf import registry_imports as mnc_registry  # pylint: disable=unused-import
from mnc_tf.benchmarks import stage_breakdown_metrics as metrics_lib
from mnc_tf.benchmarks import vs_maskrcnn
from mnc_tf.evaluation import batch_conversion
from mnc_tf.evaluation import original_image
from mnc_tf.ops import mask_paste
from mnc_tf.utils import checkpoints
from mnc_tf.utils import cli

PARAMS_FILE = 'params.yaml'
# Each model's config class, to read its params.yaml into.
_BASE_EXPERIMENTS = {'mnc': vs_maskrcnn.MNC_EXPERIMENTS[0],
                     'maskrcnn': vs_maskrcnn.MASKRCNN_EXPERIMENT}


class RunError(ValueError):
  """A missing or unfinished run; the message is one line."""


def checkpoint_step(path):
  """The step of a Model Garden checkpoint path (`.../ckpt-600` -> 600)."""
  step = checkpoints.step_of(path)
  if step < 0:
    raise RunError(f'{path}: not a checkpoint named <prefix>-<step>.')
  return step


def load_run(model_dir, model, allow_unfinished=False):
  """The params and latest checkpoint of a finished run.

  Args:
    model_dir: the run's model dir.
    model: 'mnc' or 'maskrcnn'.
    allow_unfinished: accept a checkpoint before `trainer.train_steps`.

  Returns:
    (ExperimentConfig, checkpoint path, its step).

  Raises:
    RunError: no such dir, no params.yaml or checkpoint, an unfinished run
      (unless allowed) or a run without a COCO annotation file.
  """
  if not os.path.isdir(model_dir):
    raise RunError(f'{model_dir}: no such run directory (the {model} model '
                   f'dir of vs_maskrcnn); pass --work_dir or --{model}_dir.')
  params_path = os.path.join(model_dir, PARAMS_FILE)
  if not os.path.isfile(params_path):
    raise RunError(f'{params_path}: missing; {model_dir} is not a '
                   'vs_maskrcnn model dir (or its run has not started).')
  params = exp_factory.get_exp_config(_BASE_EXPERIMENTS[model])
  try:
    with open(params_path) as f:
      params.override(yaml.safe_load(f), is_strict=True)
  except (KeyError, ValueError, TypeError, AttributeError,
          yaml.YAMLError) as e:
    raise RunError(f'{params_path}: not a {model} config ({e}).') from e
  checkpoint = tf.train.latest_checkpoint(model_dir)
  if not checkpoint:
    raise RunError(f'{model_dir}: no checkpoint yet (the run has not saved '
                   'one); wait for it to finish.')
  step = checkpoint_step(checkpoint)
  steps = params.trainer.train_steps
  if step < steps and not allow_unfinished:
    raise RunError(f'{checkpoint}: step {step} of {steps}, the run is '
                   'unfinished; wait for it or pass --allow_unfinished.')
  if not params.task.annotation_file:
    raise RunError(f'{params_path}: task.annotation_file is empty; the '
                   'breakdown needs the COCO JSON of the validation set.')
  if not os.path.isfile(params.task.annotation_file):
    raise RunError(f'{params.task.annotation_file}: the run\'s annotation '
                   'file is missing.')
  if not tf.io.gfile.glob(params.task.validation_data.input_path):
    raise RunError(f'{params.task.validation_data.input_path}: the run\'s '
                   'validation TFRecords match no file.')
  return params, checkpoint, step


def _mnc_predict(model):
  """(images, labels) -> outputs, for MNC."""
  keys = ('rpn_rois', 'num_detections', 'detection_boxes',
          'detection_classes', 'detection_scores', 'detection_masks',
          'detection_mask_boxes')

  @tf.function
  def predict(images, labels):
    outputs = model(images, labels['image_info'], training=False)
    return {k: outputs[k] for k in keys}
  return predict


def _maskrcnn_predict(model):
  """(images, labels) -> outputs, for Model Garden's Mask R-CNN.

  Its inference outputs hold the RPN's boxes and scores, not its RoIs: the
  model's own `roi_generator` makes them again from those, as in its call.
  """

  @tf.function
  def predict(images, labels):
    image_shape = labels['image_info'][:, 1, :]
    outputs = model(images, image_shape=image_shape,
                    anchor_boxes=labels['anchor_boxes'], training=False)
    rois, _ = model.roi_generator(outputs['rpn_boxes'], outputs['rpn_scores'],
                                  labels['anchor_boxes'], image_shape, False)
    kept = {k: outputs[k] for k in ('num_detections', 'detection_boxes',
                                    'detection_classes', 'detection_scores',
                                    'detection_masks')}
    kept['rpn_rois'] = rois
    return kept
  return predict


def _mnc_detections(outputs, image_info, index, params):
  det = mask_paste.original_image_detections(
      outputs, image_info, index=index,
      mask_threshold=params.task.model.detection_generator
      .mask_binarize_threshold)
  n = int(det['num_detections'])
  return {k: np.asarray(v)[:n] for k, v in det.items()
          if k != 'num_detections'}


def _maskrcnn_detections(outputs, image_info, index, params):
  """As Model Garden's COCO evaluator: boxes / scale, masks pasted in them."""
  del params
  info = image_info[index]
  n = int(outputs['num_detections'][index])
  boxes = original_image.boxes_to_original(
      outputs['detection_boxes'][index][:n], info)
  height, width = (int(v) for v in np.round(info[0]))
  masks = mask_ops.paste_instance_masks(
      np.asarray(outputs['detection_masks'][index][:n], np.float32),
      metrics_lib.yxyx_to_xywh(boxes), height, width)
  return {'detection_boxes': boxes,
          'detection_classes': outputs['detection_classes'][index][:n],
          'detection_scores': outputs['detection_scores'][index][:n],
          'detection_masks': (masks > 0).astype(np.uint8).reshape(
              n, height, width)}


# Per model: its predict function, its detections in original pixels and
# where its labels keep the image ids.
_RUNNERS = {
    'mnc': (_mnc_predict, _mnc_detections,
            lambda labels: labels['source_id']),
    'maskrcnn': (_maskrcnn_predict, _maskrcnn_detections,
                 lambda labels: labels['groundtruths']['source_id'])}


def add_batch(breakdown, model, params, source_ids, image_info, outputs,
              wanted=None):
  """Adds a batch of one model's outputs to `breakdown`, in original pixels.

  Args:
    breakdown: a `StageBreakdown`.
    model: 'mnc' or 'maskrcnn'.
    params: the run's ExperimentConfig.
    source_ids: int `[B]` image ids.
    image_info: `[B, 4, 2]` Model Garden image info.
    outputs: NumPy outputs of the model's predict function: `rpn_rois`
      `[B, P, 4]` and the detections, in network-input pixels.
    wanted: None, or the image ids to add (the others are skipped).
  """
  detections_of = _RUNNERS[model][1]
  for b in range(source_ids.shape[0]):
    if wanted is not None and int(source_ids[b]) not in wanted:
      continue
    det = detections_of(outputs, image_info, b, params)
    breakdown.add_image(
        int(source_ids[b]),
        original_image.boxes_to_original(outputs['rpn_rois'][b],
                                         image_info[b]),
        det['detection_boxes'], det['detection_classes'],
        det['detection_scores'], det['detection_masks'])


def evaluate_run(params, checkpoint, model, max_images=None):
  """Runs one model on its run's validation set; its per-size table.

  Args:
    params: the run's ExperimentConfig (`load_run`).
    checkpoint: its checkpoint path.
    model: 'mnc' or 'maskrcnn'.
    max_images: evaluate only the N images of lowest id in the annotation
      file (the same for every model, whatever order its input reads them
      in); None: all the validation images.

  Returns:
    (`StageBreakdown.result()`, number of images).
  """
  task = task_factory.get_task(params.task)
  network = task.build_model()
  dataset = task.build_inputs(params.task.validation_data)
  make_predict, _, image_ids_of = _RUNNERS[model]
  predict = make_predict(network)
  # The optimizer's slots in the checkpoint are not wanted.
  status = tf.train.Checkpoint(model=network).read(checkpoint).expect_partial()
  breakdown = metrics_lib.StageBreakdown(
      params.task.annotation_file,
      max_num_eval_detections=getattr(params.task, 'max_num_eval_detections',
                                      100))
  wanted = None
  if max_images is not None:
    wanted = set(breakdown.annotated_image_ids[:max_images])
  for images, labels in dataset:
    source_ids = batch_conversion.to_numpy(image_ids_of(labels))
    if wanted is not None and not wanted.intersection(source_ids.tolist()):
      continue
    outputs = predict(images, labels)
    if not breakdown.num_images:
      # Variables exist now: every one must have come from the checkpoint.
      status.assert_existing_objects_matched()
    add_batch(breakdown, model, params, source_ids,
              batch_conversion.to_numpy(labels['image_info']),
              {k: batch_conversion.to_numpy(v) for k, v in outputs.items()},
              wanted)
    logging.info('stage_breakdown: %s: %d images', model,
                 breakdown.num_images)
    if wanted is not None and breakdown.num_images == len(wanted):
      break
  return breakdown.result(), breakdown.num_images


def define_flags(flag_values=flags.FLAGS):
  """The CLI's flags on `flag_values` (the CLI: absl's global FLAGS)."""
  define = dict(flag_values=flag_values)
  flags.DEFINE_string('work_dir', '/tmp/mnc_vs_maskrcnn', 'The vs_maskrcnn '
                      'work dir: its model dirs mnc/ and maskrcnn/.',
                      **define)
  flags.DEFINE_string('mnc_dir', None, 'MNC model dir (default '
                      '<work_dir>/mnc).', **define)
  flags.DEFINE_string('maskrcnn_dir', None, 'Mask R-CNN model dir (default '
                      '<work_dir>/maskrcnn).', **define)
  flags.DEFINE_list('models', ['mnc', 'maskrcnn'], 'Which models to run.',
                    **define)
  flags.DEFINE_integer('max_images', None, 'Evaluate only the N images of '
                       'lowest id in the annotation file (the same images '
                       'for both models).', lower_bound=1, **define)
  flags.DEFINE_bool('allow_unfinished', False, 'Evaluate the latest '
                    'checkpoint of a run that has not reached its '
                    'train_steps.', **define)
  flags.DEFINE_bool('json', False, 'Print JSON instead of the table.',
                    **define)


def run(flag_values):
  """Runs the breakdown for parsed `flag_values`; returns 0 or 1."""
  unknown = set(flag_values.models) - set(_RUNNERS)
  if unknown:
    print('stage_breakdown: error: unknown --models %s (choose from mnc, '
          'maskrcnn)' % sorted(unknown), file=sys.stderr)
    return 1
  dirs = {'mnc': flag_values.mnc_dir, 'maskrcnn': flag_values.maskrcnn_dir}
  runs = []
  try:
    for model in flag_values.models:
      model_dir = dirs[model] or os.path.join(flag_values.work_dir, model)
      runs.append((model, model_dir) + load_run(
          model_dir, model, flag_values.allow_unfinished))
  except RunError as e:
    print(f'stage_breakdown: error: {e}', file=sys.stderr)
    return 1
  results, report = {}, {}
  for model, model_dir, params, checkpoint, step in runs:
    label = vs_maskrcnn.model_label(model, params)
    logging.info('stage_breakdown: %s (%s, step %d)', label, checkpoint, step)
    table, num_images = evaluate_run(params, checkpoint, model,
                                     flag_values.max_images)
    results[label] = table
    report[label] = {'model_dir': model_dir, 'checkpoint': checkpoint,
                     'step': step, 'images': num_images,
                     'annotation_file': params.task.annotation_file,
                     'by_size': table}
    print('stage_breakdown: %s done (%d images)' % (label, num_images),
          file=sys.stderr, flush=True)
  if flag_values.json:
    print(json.dumps(report, indent=1))
  else:
    print('\n'.join(metrics_lib.table_rows(results)))
  return 0


def main(argv):
  """Parses `argv` (program name first) on fresh flags and runs."""
  return cli.main_on_fresh_flags('stage_breakdown', define_flags, run, argv)


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(run(flags.FLAGS)))
