# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Maps network-input boxes and masks back to the original image (NumPy).

The input pipeline resizes an image of `orig_h x orig_w` to `scaled_h x scaled_w`
(scale `image_info[2]`, offset `image_info[3]`, Model Garden's convention) and
pads it at the bottom/right; evaluation happens in original-image pixels.
"""
import numpy as np


def _image_info_parts(image_info):
  image_info = np.asarray(image_info, dtype=np.float64)
  if image_info.shape != (4, 2):
    raise ValueError(f'image_info must be [4, 2], got {image_info.shape}.')
  orig_hw = np.round(image_info[0]).astype(np.int64)
  scaled_hw = image_info[1]
  scale = image_info[2]
  offset = image_info[3]
  if np.any(orig_hw <= 0) or np.any(scale <= 0):
    raise ValueError(f'image_info has a non-positive size or scale: '
                     f'{image_info.tolist()}.')
  return orig_hw, scaled_hw, scale, offset


def boxes_to_original(boxes, image_info):
  """Network-input boxes -> original-image boxes, clipped to the image.

  Args:
    boxes: float `[N, 4]` (ymin, xmin, ymax, xmax) in network-input pixels.
    image_info: `[4, 2]` (see module docstring).

  Returns:
    float32 `[N, 4]` (ymin, xmin, ymax, xmax) in original-image pixels.
  """
  orig_hw, _, scale, offset = _image_info_parts(image_info)
  boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
  out = (boxes + np.tile(offset, 2)) / np.tile(scale, 2)
  out[:, 0::2] = np.clip(out[:, 0::2], 0, orig_hw[0])
  out[:, 1::2] = np.clip(out[:, 1::2], 0, orig_hw[1])
  return out.astype(np.float32)


def resize_nearest(masks, height, width):
  """Nearest-neighbour resize of `[N, h, w]` masks to `[N, height, width]`.

  Output pixel (i, j) takes input pixel (floor((i + 0.5) h / height),
  floor((j + 0.5) w / width)): pixel centres map to pixel centres.
  """
  masks = np.asarray(masks)
  _, h, w = masks.shape
  rows = np.minimum(((np.arange(height) + 0.5) * h / height).astype(np.int64),
                    h - 1)
  cols = np.minimum(((np.arange(width) + 0.5) * w / width).astype(np.int64),
                    w - 1)
  return masks[:, rows][:, :, cols]


def full_image_masks_to_original(masks, image_info):
  """Masks on the padded network input -> binary masks on the original image.

  Args:
    masks: `[N, Hp, Wp]` masks (binary or probabilities) covering the padded
      network-input image.
    image_info: `[4, 2]`.

  Returns:
    uint8 `[N, orig_h, orig_w]` in {0, 1} (values > 0.5 are foreground).
  """
  orig_hw, scaled_hw, _, offset = _image_info_parts(image_info)
  masks = np.asarray(masks)
  if masks.ndim != 3:
    raise ValueError(f'masks must be [N, Hp, Wp], got shape {masks.shape}.')
  y0, x0 = np.round(offset).astype(np.int64)
  sh, sw = np.round(scaled_hw).astype(np.int64)
  cropped = masks[:, y0:y0 + sh, x0:x0 + sw]
  binary = (cropped.astype(np.float32) > 0.5).astype(np.uint8)
  return resize_nearest(binary, int(orig_hw[0]), int(orig_hw[1]))
