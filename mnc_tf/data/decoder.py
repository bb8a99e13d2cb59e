# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Decodes serialized tf.Examples (ours or Model Garden's) for the parser.

A thin layer over Model Garden's `TfExampleDecoder(include_mask=True)`: the
masks become uint8 0 / 1 (a quarter of float32's memory when decoded
examples are cached) and the source id becomes an int64.
"""

import tensorflow as tf

from official.vision.dataloaders import decoder as mg_decoder
from official.vision.dataloaders import tf_example_decoder


def source_id_to_int(source_id):
  """Decimal string -> int64; anything else -> a 22-bit hash (like MG's)."""
  is_number = tf.strings.regex_full_match(source_id, r'[0-9]{1,18}')
  return tf.cond(
      is_number,
      lambda: tf.strings.to_number(source_id, out_type=tf.int64),
      lambda: tf.strings.to_hash_bucket_fast(source_id, 2 ** 22 - 1))


class Decoder(mg_decoder.Decoder):
  """Decodes one serialized example.

  `decode(serialized)` returns a dict:
    source_id: int64 scalar.
    image: uint8 [H, W, 3].
    height, width: int64 scalars.
    groundtruth_classes: int64 [N], the data set's category ids.
    groundtruth_is_crowd: bool [N].
    groundtruth_area: float32 [N].
    groundtruth_boxes: float32 [N, 4], [ymin, xmin, ymax, xmax] / image size.
    groundtruth_instance_masks: uint8 [N, H, W], 0 / 1.
    groundtruth_instance_masks_png: string [N] (only if `keep_png_masks`).
  """

  def __init__(self, keep_png_masks=False):
    self._decoder = tf_example_decoder.TfExampleDecoder(include_mask=True)
    self._keep_png_masks = keep_png_masks

  def decode(self, serialized_example):
    data = self._decoder.decode(serialized_example)
    masks = data['groundtruth_instance_masks']
    # PNG masks may hold 0 / 1 (ours, Model Garden's) or 0 / 255.
    data['groundtruth_instance_masks'] = tf.cast(masks > 0.5, tf.uint8)
    source_id = data['source_id']
    if source_id.dtype == tf.string:
      data['source_id'] = source_id_to_int(source_id)
    data['groundtruth_area'] = tf.cast(data['groundtruth_area'], tf.float32)
    if not self._keep_png_masks:
      data.pop('groundtruth_instance_masks_png', None)
    return data
