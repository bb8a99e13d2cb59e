# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Box helpers that Model Garden does not have: single-level MNC anchors,
class-id mapping, and network-input <-> original-image box conversion.

Boxes are (ymin, xmin, ymax, xmax) in absolute pixels everywhere.
"""

import math

import numpy as np
import tensorflow as tf

from official.vision.ops import anchor as mg_anchor


def generate_anchors(image_height, image_width, stride, scales, aspect_ratios):
  """Anchors of a single stride-`stride` feature map, scales x aspect ratios.

  Built with Model Garden's `Anchor` (one call per scale, since MNC's scales
  128/256/512 are an octave apart rather than intermediate scales of one
  level).  Anchor centres are at ((i + 0.5) * stride, (j + 0.5) * stride).

  Args:
    image_height: static int, network-input height.
    image_width: static int, network-input width.
    stride: feature stride, a power of two (16).
    scales: anchor sides in pixels (sqrt of the area).
    aspect_ratios: width / height ratios.

  Returns:
    `[h, w, A * 4]` float32 anchors with h = ceil(H / stride), w = ceil(W /
    stride), A = len(scales) * len(aspect_ratios); per location the order is
    scale-major, ratio-minor.
  """
  level = int(round(math.log2(stride)))
  if 2 ** level != stride:
    raise ValueError(f'stride must be a power of two, got {stride}.')
  per_scale = []
  for scale in scales:
    per_scale.append(mg_anchor.Anchor(
        min_level=level, max_level=level, num_scales=1,
        aspect_ratios=list(aspect_ratios), anchor_size=float(scale) / stride,
        image_size=(int(image_height), int(image_width))
    ).multilevel_boxes[str(level)])
  return tf.concat(per_scale, axis=-1)


def class_index_table(class_ids):
  """Dense lookup from data-set id to contiguous index (1..N; -1 if unknown).

  Args:
    class_ids: list of N distinct non-negative data-set ids.

  Returns:
    int32 numpy array of length max(class_ids) + 1.
  """
  class_ids = [int(c) for c in class_ids]
  if not class_ids:
    raise ValueError('class_ids must not be empty.')
  if len(set(class_ids)) != len(class_ids) or min(class_ids) < 0:
    raise ValueError(f'class_ids must be distinct and >= 0, got {class_ids}.')
  table = -np.ones([max(class_ids) + 1], np.int32)
  for index, class_id in enumerate(class_ids):
    table[class_id] = index + 1
  return table


def map_class_ids_to_indices(gt_classes, table):
  """Maps data-set ids to contiguous indices; padding (-1) stays -1.

  Args:
    gt_classes: int `[...]` data-set ids, -1 for padding.
    table: the output of `class_index_table`.

  Returns:
    int32 `[...]` indices in 1..N, -1 for padding.

  Raises:
    tf.errors.InvalidArgumentError: an id (>= 0) is not in `class_ids`.
  """
  gt_classes = tf.cast(gt_classes, tf.int32)
  table = tf.constant(table, tf.int32)
  size = tf.shape(table)[0]
  valid = gt_classes >= 0
  safe = tf.clip_by_value(gt_classes, 0, size - 1)
  indices = tf.where(valid, tf.gather(table, safe), -tf.ones_like(gt_classes))
  known = tf.logical_or(tf.logical_not(valid), tf.logical_and(
      gt_classes < size, indices > 0))
  with tf.control_dependencies([tf.debugging.Assert(
      tf.reduce_all(known),
      ['gt_classes holds a category id that is not in model.class_ids:',
       tf.boolean_mask(gt_classes, tf.logical_not(known))], summarize=10)]):
    return tf.identity(indices)


def map_indices_to_class_ids(indices, class_ids):
  """Maps contiguous indices 1..N back to data-set ids (0 -> 0).

  Args:
    indices: int `[...]` in 0..N.
    class_ids: list of the N data-set ids.

  Returns:
    int32 `[...]` data-set ids.
  """
  lookup = tf.constant([0] + [int(c) for c in class_ids], tf.int32)
  return tf.gather(lookup, tf.cast(indices, tf.int32))


def boxes_to_original_image(boxes, image_info, clip=True):
  """Maps boxes from network-input pixels to original-image pixels.

  Model Garden's resize maps original boxes b to b * scale - offset; this is
  the inverse, optionally clipped to the original image.

  Args:
    boxes: `[B, N, 4]` (ymin, xmin, ymax, xmax) network-input pixels.
    image_info: `[B, 4, 2]` [[orig_h, orig_w], [scaled_h, scaled_w],
      [scale_y, scale_x], [offset_y, offset_x]].
    clip: clip to the original image (not for the frame of a mask, which
      must keep its geometry).

  Returns:
    `[B, N, 4]` boxes in original-image pixels.
  """
  boxes = tf.convert_to_tensor(boxes, tf.float32)
  image_info = tf.cast(image_info, tf.float32)
  scale = tf.tile(image_info[:, 2:3, :], [1, 1, 2])
  offset = tf.tile(image_info[:, 3:4, :], [1, 1, 2])
  original = (boxes + offset) / scale
  if not clip:
    return original
  size = tf.tile(image_info[:, 0:1, :], [1, 1, 2])
  return tf.clip_by_value(original, 0.0, size)


def flip_boxes_left_right(boxes, widths):
  """Mirrors boxes in images flipped left-right within their widths.

  A pixel column j of an image `width` wide goes to `width - 1 - j`, so a
  coordinate x goes to `width - x` and xmin / xmax swap roles.

  Args:
    boxes: `[B, N, 4]` (ymin, xmin, ymax, xmax) pixels.
    widths: `[B]` width of each image's content (pixels), the axis the flip
      mirrors about being `width / 2`.

  Returns:
    `[B, N, 4]` the mirrored boxes (ymin, xmin, ymax, xmax).
  """
  widths = tf.cast(widths, boxes.dtype)[:, None]
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
  return tf.stack([ymin, widths - xmax, ymax, widths - xmin], axis=-1)


def clip_boxes(boxes, image_shape):
  """Clips boxes to [0, h] x [0, w] (differentiable inside the image).

  Args:
    boxes: `[B, N, 4]`.
    image_shape: `[B, 2]` (height, width).

  Returns:
    `[B, N, 4]`.
  """
  image_shape = tf.cast(image_shape, boxes.dtype)
  limits = tf.concat([image_shape, image_shape], axis=-1)[:, None, :]
  return tf.maximum(tf.minimum(boxes, limits), 0.0)


def boxes_inside(boxes, image_shape, border=0.0):
  """Which boxes lie inside the image, extended by `border` pixels.

  The original release's test (`anchor_target_layer.py` with
  `allowed_border`, `clip_boxes` in `bbox_transform.py`) in this package's
  coordinates: ymin >= -border, xmin >= -border, ymax <= h + border,
  xmax <= w + border.

  Args:
    boxes: `[B, N, 4]` or `[N, 4]` (ymin, xmin, ymax, xmax).
    image_shape: `[B, 2]` (height, width).
    border: pixels a box may cross the image border by.

  Returns:
    bool `[B, N]`.
  """
  boxes = tf.convert_to_tensor(boxes)
  if boxes.shape.rank == 2:
    boxes = boxes[None]
  image_shape = tf.cast(image_shape, boxes.dtype)[:, None, :]
  border = tf.cast(border, boxes.dtype)
  return (tf.reduce_all(boxes[..., :2] >= -border, axis=-1) &
          tf.reduce_all(boxes[..., 2:] <= image_shape + border, axis=-1))


def batched_gather(values, indices):
  """values[b, indices[b, k]] for every b, k (differentiable w.r.t. values).

  Args:
    values: `[B, N, ...]`.
    indices: int `[B, K]` in [0, N).

  Returns:
    `[B, K, ...]`.
  """
  return tf.gather(values, indices, batch_dims=1)
