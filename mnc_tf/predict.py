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
names and renamed.
"""
import glob
import io
import json
import os
import sys

from absl import app
from absl import flags
import numpy as np
from PIL import Image
import tensorflow as tf

from mnc_tf.serving import export_lib
from mnc_tf.serving import predictor
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


def _write_atomically(path, data):
  tmp = f'{path}.tmp-{os.getpid()}'
  with tf.io.gfile.GFile(tmp, 'wb') as f:
    f.write(data)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def predict_files(predict, paths, output_dir, class_names=None,
                  image_ids=None, min_score=0.5):
  """Predicts, draws and collects COCO results for image files.

  Args:
    predict: callable uint8 `[1, H, W, 3]` -> SavedModel outputs.
    paths: image files.
    output_dir: receives `<stem>.png` per image and `coco_results.json`.
    class_names: optional {category id: name}.
    image_ids: optional {file name: COCO image id}; otherwise 1, 2, ...
    min_score: drawing threshold.

  Returns:
    (list of PNG paths, path of the results JSON, number of detections).
  """
  tf.io.gfile.makedirs(output_dir)
  results, pngs = [], []
  for index, path in enumerate(paths):
    image = predictor.read_rgb(path)
    outputs = predict(image[None])
    one = {k: np.asarray(v)[0] for k, v in outputs.items()}
    n = int(one['num_detections'])
    drawn = draw_lib.draw_instances(
        image, one['detection_boxes'][:n], one['detection_classes'][:n],
        one['detection_scores'][:n], one['detection_masks'][:n],
        class_names=class_names, min_score=min_score)
    buffer = io.BytesIO()
    Image.fromarray(drawn).save(buffer, format='PNG')
    stem = os.path.splitext(os.path.basename(path))[0]
    png = os.path.join(output_dir, f'{stem}.png')
    _write_atomically(png, buffer.getvalue())
    pngs.append(png)
    image_id = (image_ids or {}).get(os.path.basename(path), index + 1)
    results.extend(predictor.coco_results(image_id, one))
  json_path = os.path.join(output_dir, RESULTS_FILENAME)
  _write_atomically(json_path, json.dumps(results).encode('utf-8'))
  return pngs, json_path, len(results)


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
    predict = predictor.saved_model_predictor(_SAVED_MODEL.value,
                                              _SIGNATURE.value)
  else:
    if not _CHECKPOINT_PATH.value:
      raise app.UsageError('--experiment needs --checkpoint_path.')
    params = export_lib.experiment_params(
        _EXPERIMENT.value, _CONFIG_FILE.value, _PARAMS_OVERRIDE.value)
    predict = predictor.checkpoint_predictor(params, _CHECKPOINT_PATH.value)
    if annotation_file is None and os.path.exists(
        params.task.annotation_file):
      annotation_file = params.task.annotation_file
  class_names, image_ids = predictor.load_categories(annotation_file)
  pngs, json_path, count = predict_files(
      predict, paths, _OUTPUT_DIR.value, class_names, image_ids,
      _MIN_SCORE.value)
  print(f'{len(pngs)} pictures and {count} detections: {_OUTPUT_DIR.value} '
        f'({os.path.basename(json_path)})')
  return 0


if __name__ == '__main__':
  app.run(lambda argv: sys.exit(main(argv)))
