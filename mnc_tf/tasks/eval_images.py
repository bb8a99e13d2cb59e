# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Pictures of predictions on validation images, for TensorBoard."""
import os

import numpy as np

from mnc_tf.ops import mask_paste
from mnc_tf.utils import atomic_io
from mnc_tf.visualization import draw_instances as draw_lib


def draw_network_input_predictions(image, image_info, outputs, index,
                                   class_names=None, min_score=0.5,
                                   mask_threshold=0.4):
  """Draws one image's detections on its (un-normalized) network input.

  Args:
    image: uint8 `[Hp, Wp, 3]` the padded network input, un-normalized.
    image_info: `[4, 2]` its image info (the scaled size is row 1).
    outputs: NumPy inference outputs of the batch (`num_detections`,
      `detection_boxes`, `detection_classes`, `detection_scores`,
      `detection_masks` [B, D, V, V], `detection_mask_boxes`), network-input
      pixels.
    index: the image's row in the batch.
    class_names: optional id -> name.
    min_score: instances below are not drawn.
    mask_threshold: binarization of the pasted masks.

  Returns:
    uint8 `[scaled_h, scaled_w, 3]`.
  """
  height, width = (int(v) for v in np.round(np.asarray(image_info)[1]))
  image = np.asarray(image)[:height, :width]
  n = int(outputs['num_detections'][index])
  boxes = np.asarray(outputs['detection_boxes'][index][:n])
  masks = np.zeros((0, height, width), np.uint8)
  if n:
    masks = mask_paste.paste_masks(
        outputs['detection_masks'][index][:n],
        outputs['detection_mask_boxes'][index][:n], height, width,
        threshold=mask_threshold).numpy()
  return draw_lib.draw_instances(
      image, boxes, outputs['detection_classes'][index][:n],
      outputs['detection_scores'][index][:n], masks, class_names=class_names,
      min_score=min_score)


def stack_images(images):
  """Pads uint8 `[h_i, w_i, 3]` images to a common size: `[N, H, W, 3]`."""
  if not images:
    return np.zeros((0, 1, 1, 3), np.uint8)
  height = max(i.shape[0] for i in images)
  width = max(i.shape[1] for i in images)
  out = np.zeros((len(images), height, width, 3), np.uint8)
  for k, image in enumerate(images):
    out[k, :image.shape[0], :image.shape[1]] = image
  return out


def write_pngs(images, directory):
  """Writes uint8 `[h, w, 3]` images as `image_<k>.png` in `directory`.

  Each file is written under a temporary name and renamed into place.

  Returns:
    The list of paths written.
  """
  return [atomic_io.write_image(os.path.join(directory, f'image_{k}.png'),
                                image)
          for k, image in enumerate(images)]
