# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Helpers for tests/data: tiny COCO / SBD sets written into tmp_path."""

import glob
import io
import json
import os

import numpy as np
from PIL import Image
from pycocotools import mask as mask_util
import tensorflow as tf

from official.vision.dataloaders import tf_example_decoder


def decoded_example(image, masks, boxes, classes, **extra):
  """A decoded example (the parser's input) from NumPy arrays.

  Args:
    image: uint8 [H, W, 3].
    masks: uint8 [N, H, W] 0 / 1.
    boxes: [N, 4] normalized (ymin, xmin, ymax, xmax).
    classes: [N] category ids.
    **extra: more keys (e.g. flip_seed), added as they are.
  """
  height, width = image.shape[:2]
  return dict({
      'source_id': tf.constant(7, tf.int64),
      'image': tf.constant(image, tf.uint8),
      'height': tf.constant(height, tf.int64),
      'width': tf.constant(width, tf.int64),
      'groundtruth_classes': tf.constant(classes, tf.int64),
      'groundtruth_is_crowd': tf.zeros([len(classes)], tf.bool),
      'groundtruth_area': tf.constant(masks.sum(axis=(1, 2)), tf.float32),
      'groundtruth_boxes': tf.constant(boxes, tf.float32),
      'groundtruth_instance_masks': tf.constant(masks),
  }, **extra)


def random_image(height, width, seed=0):
  return np.random.default_rng(seed).integers(
      0, 256, size=(height, width, 3), dtype=np.uint8)


def smooth_image(height, width, seed=0):
  """A colour gradient plus mild noise (JPEG-friendly)."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:height, 0:width]
  base = np.stack([yy * 200.0 / height, xx * 200.0 / width,
                   (yy + xx) * 100.0 / (height + width)], axis=-1) + 30
  return np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)


def save_image(path, array, image_format='PNG', mode=None, **kwargs):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  pil = Image.fromarray(array)
  if mode is not None:
    pil = pil.convert(mode)
  pil.save(path, format=image_format, **kwargs)
  return path


def compressed_rle(mask):
  rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
  return {'size': [int(v) for v in rle['size']],
          'counts': rle['counts'].decode('ascii')}


def uncompressed_rle(mask):
  """COCO's uncompressed RLE: column-major runs starting with zeros."""
  flat = mask.astype(np.uint8).flatten(order='F')
  counts = []
  current, run = 0, 0
  for v in flat:
    if v == current:
      run += 1
    else:
      counts.append(run)
      current, run = v, 1
  counts.append(run)
  return {'size': [int(mask.shape[0]), int(mask.shape[1])], 'counts': counts}


def box_mask(height, width, y0, x0, y1, x1):
  mask = np.zeros((height, width), np.uint8)
  mask[y0:y1, x0:x1] = 1
  return mask


def coco_bbox(mask):
  rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
  return [float(v) for v in mask_util.toBbox(rle)]


def write_json(path, images, annotations, categories):
  with open(path, 'w') as f:
    json.dump({'images': images, 'annotations': annotations,
               'categories': categories}, f)
  return path


def list_outputs(directory):
  return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def read_records(pattern):
  records = []
  for path in sorted(glob.glob(pattern)):
    records.extend(r.numpy() for r in tf.data.TFRecordDataset(path))
  return records


def mg_decode(serialized):
  """Model Garden's own decoder (include_mask=True), as numpy."""
  decoded = tf_example_decoder.TfExampleDecoder(include_mask=True).decode(
      tf.constant(serialized))
  return {k: v.numpy() for k, v in decoded.items()}


def features(serialized):
  example = tf.train.Example.FromString(serialized)
  return example.features.feature


def png_to_array(data):
  return np.asarray(Image.open(io.BytesIO(data)))


def nearest_resize(mask, out_h, out_w):
  """TF's nearest-neighbour resize (half-pixel centres), in numpy."""
  in_h, in_w = mask.shape
  sy = np.float32(in_h) / np.float32(out_h)
  sx = np.float32(in_w) / np.float32(out_w)
  ys = np.minimum(np.floor((np.arange(out_h, dtype=np.float32) + 0.5) * sy),
                  in_h - 1).astype(int)
  xs = np.minimum(np.floor((np.arange(out_w, dtype=np.float32) + 0.5) * sx),
                  in_w - 1).astype(int)
  return mask[ys][:, xs]
