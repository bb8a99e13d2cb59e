# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Predicts instances on image files and draws them.

    python -m mnc_tf.predict --saved_model=DIR --images='photos/*.jpg' \
        --output_dir=DIR [--annotation_file=val.json] [--min_score=0.5]
    python -m mnc_tf.predict --experiment=mnc_shapes_demo \
        --checkpoint_path=demo_out/model --images=... --output_dir=...

Writes, per image, `<name>.png`: each instance's mask in its own colour, its
box, class name and score; and `coco_results.json`: every detection
(`bbox` xywh and RLE `segmentation` in original-image pixels, data-set
category ids) as COCO results that `pycocotools` `loadRes` reads. Class names
and image ids come from `--annotation_file` (a COCO JSON; with
`--experiment` its `task.annotation_file` when that exists); otherwise images
are numbered 1, 2, ... in sorted order. Files are written under temporary
names and renamed (`mnc_tf.utils.atomic_io`).

Images are read by `mnc_tf.data.image_io.read_rgb`, the converters' reader
(EXIF rotation, 16-bit, grayscale, palette, CMYK, RGBA), so a file means the
same picture here as in training. A file that is not a readable image (a
text file named .jpg, a truncated file) is reported in one line; the other
images are predicted and written, and the exit status is 1 at the end.
"""
import dataclasses
import glob
import json
import os
import sys
from typing import List, Tuple

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from mnc_tf.data import errors
from mnc_tf.data import image_io
from mnc_tf.serving import export_lib
from mnc_tf.serving import predictor
from mnc_tf.utils import atomic_io
from mnc_tf.utils import checkpoints
from mnc_tf.visualization import draw_instances as draw_lib

_SAVED_MODEL = flags.DEFINE_string('saved_model', None, 'SavedModel dir.')
_SIGNATURE = flags.DEFINE_string('signature', predictor.SIGNATURE,
                                 'Signature of --saved_model (uint8 input).')
_EXPERIMENT = flags.DEFINE_string(
    'experiment', None, 'Instead of --saved_model: an experiment name ...')
_CHECKPOINT_PATH = flags.DEFINE_string(
    'checkpoint_path', None, '... and its checkpoint (file or model_dir).')
_CONFIG_FILE = flags.DEFINE_multi_string('config_file', None,
                                         'Experiment overrides (YAML).')
_PARAMS_OVERRIDE = flags.DEFINE_string('params_override', '',
                                       'Experiment overrides.')
_IMAGES = flags.DEFINE_string('images', None, 'Glob of image files.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Where to write.')
_ANNOTATION_FILE = flags.DEFINE_string(
    'annotation_file', None, 'COCO JSON giving class names and image ids.')
_MIN_SCORE = flags.DEFINE_float('min_score', 0.5,
                                'Instances scoring less are not drawn '
                                '(the JSON keeps all).')

RESULTS_FILENAME = 'coco_results.json'


@dataclasses.dataclass
class PredictionRun:
  """What `predict_files` wrote.

  Attributes:
    pngs: the pictures written, one per readable image.
    json_path: the COCO results JSON (detections of the readable images).
    num_detections: detections in the JSON.
    failures: (image path, one-line reason) of each image not predicted.
  """
  pngs: List[str]
  json_path: str
  num_detections: int
  failures: List[Tuple[str, str]]


class _SkippedImage(Exception):
  """An image that cannot be predicted; the message names it and why."""


def _read_and_predict(predict, path):
  """(uint8 `[H, W, 3]` image, outputs); _SkippedImage when impossible."""
  try:
    image = image_io.read_rgb(path)
  except errors.InvalidRecordError as e:
    raise _SkippedImage(f'{e.reason}: {e.detail}') from None
  try:
    return image, predict(image[None])
  except tf.errors.OpError as e:
    first_line = (e.message.strip().splitlines() or [''])[0]
    raise _SkippedImage(f'prediction failed on {path} ({type(e).__name__}: '
                        f'{first_line})') from None


def predict_files(predict, paths, output_dir, class_names=None,
                  image_ids=None, min_score=0.5, report=None):
  """Predicts, draws and collects COCO results for image files.

  An image that cannot be read (missing, not an image, truncated) or
  predicted is reported with `report` and skipped; the others go on.

  Args:
    predict: callable uint8 `[1, H, W, 3]` -> SavedModel outputs
      (`detection_boxes` `[1, N, 4]` ymin, xmin, ymax, xmax original-image
      pixels, `detection_masks` uint8 `[1, N, H, W]`, ...).
    paths: image files.
    output_dir: receives `<stem>.png` per image and `coco_results.json`.
    class_names: optional {category id: name}.
    image_ids: optional {file name: COCO image id}; otherwise 1, 2, ...
      (the position in `paths`, failed images included).
    min_score: drawing threshold.
    report: callable(str) for the one-line failure messages (default:
      stderr).

  Returns:
    PredictionRun.
  """
  if report is None:
    report = lambda line: print(line, file=sys.stderr, flush=True)
  tf.io.gfile.makedirs(output_dir)
  results, pngs, failures = [], [], []
  for index, path in enumerate(paths):
    try:
      image, outputs = _read_and_predict(predict, path)
    except _SkippedImage as e:
      failures.append((path, str(e)))
      report(f'predict: skipped: {e}')
      continue
    one = {k: np.asarray(v)[0] for k, v in outputs.items()}
    n = int(one['num_detections'])
    drawn = draw_lib.draw_instances(
        image, one['detection_boxes'][:n], one['detection_classes'][:n],
        one['detection_scores'][:n], one['detection_masks'][:n],
        class_names=class_names, min_score=min_score)
    stem = os.path.splitext(os.path.basename(path))[0]
    pngs.append(atomic_io.write_image(
        os.path.join(output_dir, f'{stem}.png'), drawn))
    image_id = (image_ids or {}).get(os.path.basename(path), index + 1)
    results.extend(predictor.coco_results(image_id, one))
  json_path = atomic_io.write_json(os.path.join(output_dir, RESULTS_FILENAME),
                                   results)
  return PredictionRun(pngs, json_path, len(results), failures)


def _fail(message):
  print(f'predict: error: {message}', file=sys.stderr)
  return 1


def main(_):
  if not _IMAGES.value or not _OUTPUT_DIR.value:
    raise app.UsageError('--images and --output_dir are required.')
  if bool(_SAVED_MODEL.value) == bool(_EXPERIMENT.value):
    raise app.UsageError('give either --saved_model or --experiment (with '
                         '--checkpoint_path).')
  paths = sorted(glob.glob(_IMAGES.value))
  if not paths:
    raise app.UsageError(f'no files match --images={_IMAGES.value!r}.')
  annotation_file = _ANNOTATION_FILE.value
  if _SAVED_MODEL.value:
    if not tf.saved_model.contains_saved_model(_SAVED_MODEL.value):
      return _fail(f'--saved_model={_SAVED_MODEL.value} holds no SavedModel '
                   '(no saved_model.pb); pass the directory written by '
                   'export/export_saved_model.py.')
    predict = predictor.saved_model_predictor(_SAVED_MODEL.value,
                                              _SIGNATURE.value)
  else:
    if not _CHECKPOINT_PATH.value:
      raise app.UsageError('--experiment needs --checkpoint_path.')
    try:
      checkpoint = checkpoints.resolve_checkpoint(_CHECKPOINT_PATH.value)
    except checkpoints.CheckpointNotFoundError as e:
      return _fail(f'--checkpoint_path: {e}')
    params = export_lib.experiment_params(
        _EXPERIMENT.value, _CONFIG_FILE.value, _PARAMS_OVERRIDE.value)
    predict = predictor.checkpoint_predictor(params, checkpoint)
    if annotation_file is None and os.path.exists(
        params.task.annotation_file):
      annotation_file = params.task.annotation_file
  try:
    class_names, image_ids = predictor.load_categories(annotation_file)
  except (ValueError, KeyError, TypeError, AttributeError,
          tf.errors.OpError) as e:
    return _fail(f'--annotation_file={annotation_file} is not a COCO JSON '
                 f'({type(e).__name__}: {e}); pass a COCO JSON with '
                 '"categories" and "images" or leave the flag out.')
  run = predict_files(predict, paths, _OUTPUT_DIR.value, class_names,
                      image_ids, _MIN_SCORE.value)
  print(f'{len(run.pngs)} pictures and {run.num_detections} detections: '
        f'{_OUTPUT_DIR.value} ({os.path.basename(run.json_path)})')
  if run.failures:
    return _fail(f'{len(run.failures)} of {len(paths)} images could not be '
                 'predicted (listed above); the others were written.')
  return 0


if __name__ == '__main__':
  app.run(lambda argv: sys.exit(main(argv)))
