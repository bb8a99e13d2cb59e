# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Runs MNC on image files: from a SavedModel or an experiment + checkpoint.

Both give a callable uint8 `[1, H, W, 3]` -> the SavedModel's outputs
(`mnc_tf.serving.export_module`, original-image pixels).
"""
import json
import os

import numpy as np
from pycocotools import mask as mask_util
import tensorflow as tf

from mnc_tf.modeling import factory
from mnc_tf.serving import export_module as export_module_lib
from mnc_tf.utils import checkpoints

SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY


def saved_model_predictor(saved_model_dir, signature=SIGNATURE):
  """The `image_tensor`-style signature of a SavedModel as a callable."""
  loaded = tf.saved_model.load(saved_model_dir)
  if signature not in loaded.signatures:
    raise ValueError(f'{saved_model_dir} has no signature {signature!r}; it '
                     f'has {sorted(loaded.signatures)}.')
  function = loaded.signatures[signature]
  args, kwargs = function.structured_input_signature
  spec = list(kwargs.values())[0] if kwargs else args[0]
  if spec.dtype != tf.uint8:
    raise ValueError(f'signature {signature!r} takes {spec.dtype.name}; '
                     "predict needs an image_tensor signature (uint8 "
                     "[B, H, W, 3]), e.g. 'image_tensor'.")

  def predict(images):
    return function(tf.constant(images))
  predict.keep_alive = loaded  # the functions need the loaded object alive
  return predict


def checkpoint_predictor(params, checkpoint_path):
  """The in-process model of `params` with weights from `checkpoint_path`.

  Raises:
    checkpoints.CheckpointNotFoundError: `checkpoint_path` (a prefix or a
      directory) names no checkpoint.
  """
  checkpoint_path = checkpoints.resolve_checkpoint(checkpoint_path)
  model = factory.build_mnc_model(params.task.model)
  tf.train.Checkpoint(model=model).read(
      checkpoint_path).assert_existing_objects_matched().expect_partial()
  module = export_module_lib.MncExportModule(params, model=model)
  serve = tf.function(
      module.serve,
      input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])

  def predict(images):
    return serve(tf.constant(images))
  return predict


def load_categories(annotation_file):
  """({id: name}, {file_name: image id}) of a COCO JSON ({} when empty)."""
  if not annotation_file:
    return {}, {}
  with tf.io.gfile.GFile(annotation_file) as f:
    data = json.load(f)
  names = {int(c['id']): c['name'] for c in data.get('categories', [])}
  ids = {os.path.basename(i['file_name']): int(i['id'])
         for i in data.get('images', [])}
  return names, ids


def coco_results(image_id, outputs):
  """COCO results (boxes xywh, masks RLE) of one image's outputs.

  Args:
    image_id: int COCO image id.
    outputs: NumPy outputs of a single image (`num_detections` scalar,
      `detection_boxes` `[N, 4]` ymin, xmin, ymax, xmax original pixels,
      `detection_classes`, `detection_scores`, `detection_masks` uint8
      `[N, H, W]`).

  Returns:
    list of dicts with `image_id`, `category_id`, `bbox`, `score`,
    `segmentation` (RLE, `counts` as str).
  """
  results = []
  for k in range(int(outputs['num_detections'])):
    ymin, xmin, ymax, xmax = (float(v) for v in outputs['detection_boxes'][k])
    rle = mask_util.encode(np.asfortranarray(
        outputs['detection_masks'][k].astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    results.append({
        'image_id': int(image_id),
        'category_id': int(outputs['detection_classes'][k]),
        'bbox': [xmin, ymin, xmax - xmin, ymax - ymin],
        'score': float(outputs['detection_scores'][k]),
        'segmentation': rle,
    })
  return results
