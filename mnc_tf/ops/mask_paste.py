# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Resampling box-relative masks into image space (separable bilinear).

A mask of m x m cells covers its box (ymin, xmin, ymax, xmax); image point p
(pixel centres are at integer + 0.5) inside the half-open box [start, end) has
mask coordinate t = (p - start) / (end - start) * m - 0.5, read bilinearly with
edge clamping; points outside the box read 0.  This is "resize the mask to the
box and paste it", written as two small interpolation matrices so that it
costs a matmul and works in exported graphs with stock ops.
"""

import tensorflow as tf

from mnc_tf.ops import box_utils


def interpolation_matrix(positions, start, end, mask_size):
  """Bilinear read-out weights of box-relative masks at image positions.

  Args:
    positions: `[..., S]` image coordinates of the sample points.
    start: `[...]` box start coordinate (same leading shape).
    end: `[...]` box end coordinate.
    mask_size: static int m.

  Returns:
    `[..., S, m]` weights; row s holds the (at most two) non-zero bilinear
    weights of sample s, or zeros when s lies outside [start, end).
  """
  positions = tf.convert_to_tensor(positions, tf.float32)
  start = tf.cast(start, tf.float32)[..., None]
  end = tf.cast(end, tf.float32)[..., None]
  length = end - start
  inside = (positions >= start) & (positions < end) & (length > 0.0)
  coord = (positions - start) / tf.maximum(length, 1e-6) * mask_size - 0.5
  coord = tf.clip_by_value(coord, 0.0, mask_size - 1.0)
  low = tf.floor(coord)
  frac = coord - low
  low_index = tf.cast(low, tf.int32)
  high_index = tf.minimum(low_index + 1, mask_size - 1)
  weights = (tf.one_hot(low_index, mask_size) * (1.0 - frac)[..., None]
             + tf.one_hot(high_index, mask_size) * frac[..., None])
  return weights * tf.cast(inside, tf.float32)[..., None]


def pixel_centres(size):
  """Image coordinates of the pixel centres 0.5, 1.5, ... of an axis."""
  return tf.range(tf.cast(size, tf.float32)) + 0.5


def paste_masks(masks, boxes, height, width, threshold=None):
  """Pastes box-relative masks into a height x width image.

  Args:
    masks: `[N, m, m]` float masks.
    boxes: `[N, 4]` (ymin, xmin, ymax, xmax) in the target image's pixels.
    height: scalar, output height.
    width: scalar, output width.
    threshold: None for the soft pasted masks (float32), otherwise the masks
      are binarized with `>= threshold` and returned as uint8.

  Returns:
    `[N, height, width]` float32 or uint8.
  """
  masks = tf.convert_to_tensor(masks, tf.float32)
  boxes = tf.convert_to_tensor(boxes, tf.float32)
  size = masks.shape[-1]
  ys, xs = pixel_centres(height), pixel_centres(width)
  out_dtype = tf.float32 if threshold is None else tf.uint8

  def paste_one(args):
    mask, box = args
    rows = interpolation_matrix(ys, box[0], box[2], size)   # [H, m]
    cols = interpolation_matrix(xs, box[1], box[3], size)   # [W, m]
    full = tf.matmul(tf.matmul(rows, mask), cols, transpose_b=True)
    if threshold is None:
      return full
    return tf.cast(full >= threshold, tf.uint8)

  return tf.map_fn(paste_one, (masks, boxes),
                   fn_output_signature=tf.TensorSpec([None, None], out_dtype))


def original_image_detections(outputs, image_info, index=0,
                              mask_threshold=0.4):
  """The detections of one image in original-image pixels (docs/design.md §6).

  Args:
    outputs: inference outputs of `MncModel` (`num_detections`,
      `detection_boxes`, `detection_classes`, `detection_scores`,
      `detection_masks`, `detection_mask_boxes`; boxes in network-input
      pixels).
    image_info: `[B, 4, 2]` Model Garden image info.
    index: which image of the batch.
    mask_threshold: binarization threshold of the voted masks (0.4).

  Returns:
    dict: `num_detections` int32 scalar, `detection_boxes` `[N, 4]` original
    pixels, `detection_classes` int32 `[N]` data-set ids, `detection_scores`
    `[N]`, `detection_masks` uint8 `[N, H0, W0]` full-image binary masks
    (N = max detections; rows past num_detections are zero).
  """
  info = tf.cast(image_info[index:index + 1], tf.float32)
  boxes = box_utils.boxes_to_original_image(
      outputs['detection_boxes'][index:index + 1], info)[0]
  mask_boxes = box_utils.boxes_to_original_image(
      outputs['detection_mask_boxes'][index:index + 1], info, clip=False)[0]
  height = tf.cast(tf.round(info[0, 0, 0]), tf.int32)
  width = tf.cast(tf.round(info[0, 0, 1]), tf.int32)
  num = tf.cast(outputs['num_detections'][index], tf.int32)
  valid = tf.range(tf.shape(boxes)[0]) < num
  masks = paste_masks(outputs['detection_masks'][index], mask_boxes, height,
                      width, threshold=mask_threshold)
  masks = masks * tf.cast(valid, tf.uint8)[:, None, None]
  return {
      'num_detections': num,
      'detection_boxes': tf.where(valid[:, None], boxes, tf.zeros_like(boxes)),
      'detection_classes': tf.cast(outputs['detection_classes'][index],
                                   tf.int32),
      'detection_scores': outputs['detection_scores'][index],
      'detection_masks': masks,
  }
