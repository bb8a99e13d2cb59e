# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Our tf.Example format: Model Garden's instance-segmentation keys.

One example per image.  Keys (N = number of instances, possibly 0):

| key                               | type        | value                        |
|-----------------------------------|-------------|------------------------------|
| image/encoded                     | bytes       | RGB JPEG or PNG              |
| image/format                      | bytes       | 'JPEG' or 'PNG'              |
| image/height, image/width         | int64       | pixels                       |
| image/channels                    | int64       | 3                            |
| image/source_id                   | bytes       | decimal image id, e.g. b'42' |
| image/filename                    | bytes       | file name in the source set  |
| image/key/sha256                  | bytes       | hex digest of image/encoded  |
| image/object/bbox/{ymin,xmin,ymax,xmax} | float[N] | box / image size, in [0, 1] |
| image/object/class/label          | int64[N]    | the data set's category ids  |
| image/object/class/text           | bytes[N]    | category names               |
| image/object/is_crowd             | int64[N]    | 0 / 1                        |
| image/object/area                 | float[N]    | mask area in pixels          |
| image/object/mask                 | bytes[N]    | PNG, 1 channel, values 0 / 1 |

Box coordinates are continuous: a box covering pixel columns 3..7 has
xmin = 3 / width and xmax = 8 / width.  Model Garden's `TfExampleDecoder`
(`include_mask=True`) reads these records, and records written by Model
Garden's COCO converter carry the same keys.
"""

import hashlib

import numpy as np

from official.vision.data import tf_example_builder
from official.vision.data import tfrecord_lib


def mask_to_box(mask):
  """Tight continuous box [ymin, xmin, ymax, xmax] (pixels) of a binary mask."""
  rows = np.flatnonzero(mask.any(axis=1))
  cols = np.flatnonzero(mask.any(axis=0))
  if rows.size == 0:
    return [0.0, 0.0, 0.0, 0.0]
  return [float(rows[0]), float(cols[0]), float(rows[-1] + 1),
          float(cols[-1] + 1)]


def build_example(encoded_image, image_format, height, width, source_id,
                  filename, instances):
  """Builds one tf.train.Example.

  Args:
    encoded_image: RGB JPEG / PNG bytes.
    image_format: 'jpeg' or 'png'.
    height: image height in pixels.
    width: image width in pixels.
    source_id: int or decimal string, the image id.
    filename: the image's file name (informational).
    instances: list of dicts with keys `box` ([ymin, xmin, ymax, xmax] in
      pixels), `class_id` (int), `class_name` (str), `is_crowd` (0 / 1),
      `area` (float) and `mask` (uint8 [height, width] of 0 / 1).

  Returns:
    tf.train.Example.
  """
  builder = tf_example_builder.TfExampleBuilder()
  builder.add_encoded_image_feature(
      encoded_image, image_format=image_format, height=height, width=width,
      num_channels=3, image_source_id=str(source_id).encode('utf8'))
  builder.add_bytes_feature('image/filename', filename.encode('utf8'))
  builder.add_bytes_feature(
      'image/key/sha256', hashlib.sha256(encoded_image).hexdigest())
  boxes = np.array([inst['box'] for inst in instances],
                   dtype=np.float64).reshape(-1, 4)
  builder.add_boxes_feature(
      xmins=(boxes[:, 1] / width).tolist(),
      xmaxs=(boxes[:, 3] / width).tolist(),
      ymins=(boxes[:, 0] / height).tolist(),
      ymaxs=(boxes[:, 2] / height).tolist(),
      labels=[int(inst['class_id']) for inst in instances])
  builder.add_bytes_feature('image/object/class/text',
                            [inst['class_name'] for inst in instances])
  builder.add_ints_feature('image/object/is_crowd',
                           [int(inst['is_crowd']) for inst in instances])
  builder.add_encoded_instance_masks_feature(
      [tfrecord_lib.encode_mask_as_png(inst['mask'].astype(np.uint8))
       for inst in instances],
      mask_areas=[float(inst['area']) for inst in instances])
  return builder.example
