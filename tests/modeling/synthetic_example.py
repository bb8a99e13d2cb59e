# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""One tiny synthetic image in the input pipeline's format, drawn with NumPy."""
import numpy as np

CLASS_IDS = (3, 7)   # data-set ids (non-contiguous on purpose)


def make_example(size=96, max_instances=4, empty=False):
  """A red rectangle (id 3) and a blue disk (id 7) on a dark background.

  The drawing is defined on a 96 x 96 canvas and scaled to `size`.

  Returns:
    dict of batched numpy arrays: images [1, H, W, 3] (roughly normalized),
    image_info [1, 4, 2], gt_boxes [1, M, 4] (-1 padded), gt_classes [1, M]
    (-1 padded), gt_masks uint8 [1, M, H, W].
  """
  yy, xx = np.mgrid[:size, :size] * (96.0 / size)
  image = np.full([size, size, 3], -1.0, np.float32)
  boxes = -np.ones([1, max_instances, 4], np.float32)
  classes = -np.ones([1, max_instances], np.int32)
  masks = np.zeros([1, max_instances, size, size], np.uint8)
  if not empty:
    rect = (yy >= 12) & (yy < 52) & (xx >= 10) & (xx < 42)
    disk = (yy - 62) ** 2 + (xx - 66) ** 2 < 22 ** 2
    image[rect] = [1.5, -0.5, -0.5]
    image[disk] = [-0.5, -0.5, 1.5]
    scale = size / 96.0
    boxes[0, 0] = np.array([12, 10, 52, 42]) * scale
    boxes[0, 1] = np.array([40, 44, 84, 88]) * scale
    classes[0, :2] = [3, 7]
    masks[0, 0], masks[0, 1] = rect, disk
  info = np.array([[[size, size], [size, size], [1, 1], [0, 0]]], np.float32)
  return {'images': image[None], 'image_info': info, 'gt_boxes': boxes,
          'gt_classes': classes, 'gt_masks': masks}
