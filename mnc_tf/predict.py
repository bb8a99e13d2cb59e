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
images are predicted and written, and the exit status is 1 at the end. A
damaged SavedModel or checkpoint (`mnc_tf.utils.damaged_files`) ends in one
line before anything is written.
"""
import dataclasses
import glob
import os
import sys
from typing import List, Tuple

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from mnc_tf import registry_imports  # pylint: disable=unused-import
from mnc_tf.configs import experiment_params
from mnc_tf.data import errors
from mnc_tf.data import image_io
from mnc_tf.serving import predictor
from mnc_tf.utils import atomic_io
from mnc_tf.utils import checkpoints
from mnc_tf.utils import damaged_files
from mnc_tf.visualization import draw_instances as draw_lib

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


def _picture_names(paths):
  """{path: `<stem>.png`}, or `<file name>.png` where stems collide."""
  stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
  return {p: (f'{stem}.png' if stems.count(stem) == 1
              else f'{os.path.basename(p)}.png')
          for p, stem in zip(paths, stems)}


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
    output_dir: receives `<stem>.png` per image (`<file name>.png` when two
      files share a stem, e.g. `a.jpg.png` and `a.png.png`) and
      `coco_results.json`.
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
  picture_names = _picture_names(paths)
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
    pngs.append(atomic_io.write_image(
        os.path.join(output_dir, picture_names[path]), drawn))
    image_id = (image_ids or {}).get(os.path.basename(path), index + 1)
    results.extend(predictor.coco_results(image_id, one))
  json_path = atomic_io.write_json(os.path.join(output_dir, RESULTS_FILENAME),
                                   results)
  return PredictionRun(pngs, json_path, len(results), failures)


def _fail(message):
  print(f'predict: error: {message}', file=sys.stderr)
  return 1


def define_flags(flag_values=flags.FLAGS):
  """Defines predict's flags (called by `__main__`, as Model Garden does)."""
  flags.DEFINE_string('saved_model', None, 'SavedModel directory.',
                      flag_values=flag_values)
  flags.DEFINE_string('signature', predictor.SIGNATURE,
                      'Signature of --saved_model (uint8 input).',
                      flag_values=flag_values)
  flags.DEFINE_string('experiment', None, 'Instead of --saved_model: a '
                      'registered experiment ...', flag_values=flag_values)
  flags.DEFINE_string('checkpoint_path', None, '... and its checkpoint '
                      '(prefix or model_dir).', flag_values=flag_values)
  flags.DEFINE_multi_string('config_file', None,
                            'Experiment overrides (YAML).',
                            flag_values=flag_values)
  flags.DEFINE_string('params_override', '', 'Experiment overrides.',
                      flag_values=flag_values)
  flags.DEFINE_string('images', None, 'Glob of image files.',
                      flag_values=flag_values)
  flags.DEFINE_string('output_dir', None, 'Where to write.',
                      flag_values=flag_values)
  flags.DEFINE_string('annotation_file', None,
                      'COCO JSON giving class names and image ids.',
                      flag_values=flag_values)
  flags.DEFINE_float('min_score', 0.5, 'Instances scoring less are not '
                     'drawn (the JSON keeps all).', flag_values=flag_values)


class _UsageProblem(Exception):
  """A flag names something unusable; the message says which and the fix."""


def _predictor(flag_values):
  """(predict callable, annotation file); raises _UsageProblem."""
  annotation_file = flag_values.annotation_file
  if flag_values.saved_model:
    if not tf.saved_model.contains_saved_model(flag_values.saved_model):
      raise _UsageProblem(
          f'--saved_model={flag_values.saved_model} holds no SavedModel (no '
          'saved_model.pb); pass the directory written by '
          'export/export_saved_model.py.')
    try:
      damaged_files.check_saved_model(flag_values.saved_model)
    except damaged_files.DamagedFileError as e:
      raise _UsageProblem(str(e)) from None
    return (predictor.saved_model_predictor(flag_values.saved_model,
                                            flag_values.signature),
            annotation_file)
  if not flag_values.checkpoint_path:
    raise _UsageProblem('--experiment needs --checkpoint_path (a training '
                        'model_dir or a checkpoint prefix).')
  try:
    checkpoint = checkpoints.resolve_checkpoint(flag_values.checkpoint_path)
    damaged_files.check_checkpoint(checkpoint)
    params = experiment_params.parse(flag_values.experiment,
                                     flag_values.config_file or [],
                                     flag_values.params_override)
  except (checkpoints.CheckpointNotFoundError,
          experiment_params.ParamsError, damaged_files.DamagedFileError) as e:
    raise _UsageProblem(str(e)) from None
  if annotation_file is None and os.path.exists(params.task.annotation_file):
    annotation_file = params.task.annotation_file
  return predictor.checkpoint_predictor(params, checkpoint), annotation_file


def main(argv, flag_values=flags.FLAGS):
  """Predicts as the parsed `flag_values` say; returns the exit status."""
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  try:
    if not flag_values.images or not flag_values.output_dir:
      raise _UsageProblem('--images and --output_dir are required.')
    if bool(flag_values.saved_model) == bool(flag_values.experiment):
      raise _UsageProblem('give either --saved_model or --experiment (with '
                          '--checkpoint_path).')
    paths = sorted(glob.glob(flag_values.images))
    if not paths:
      raise _UsageProblem(f'no files match --images={flag_values.images!r}.')
    predict, annotation_file = _predictor(flag_values)
    try:
      class_names, image_ids = predictor.load_categories(annotation_file)
    except (ValueError, KeyError, TypeError, AttributeError,
            tf.errors.OpError) as e:
      raise _UsageProblem(
          f'--annotation_file={annotation_file} is not a COCO JSON '
          f'({type(e).__name__}: {e}); pass a COCO JSON with "categories" '
          'and "images" or leave the flag out.') from None
  except _UsageProblem as e:
    return _fail(str(e))
  run = predict_files(predict, paths, flag_values.output_dir, class_names,
                      image_ids, flag_values.min_score)
  print(f'{len(run.pngs)} pictures and {run.num_detections} detections: '
        f'{flag_values.output_dir} ({os.path.basename(run.json_path)})')
  if run.failures:
    return _fail(f'{len(run.failures)} of {len(paths)} images could not be '
                 'predicted (listed above); the others were written.')
  return 0


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(main(argv)))
