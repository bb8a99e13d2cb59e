# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Draws instance predictions: each instance in its own colour, with a label.

Plain NumPy + Pillow functions: they serve the Task's TensorBoard image
summaries and the demo's pictures alike.
"""
import colorsys
from typing import Mapping, Optional

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

from official.vision.ops import preprocess_ops

_GOLDEN_RATIO_CONJUGATE = 0.618033988749895


def instance_colors(num):
  """`num` distinct, saturated RGB colours (uint8 `[num, 3]`).

  Hues step by the golden ratio, so neighbouring indices differ strongly and
  no two of the first hundreds coincide.
  """
  colors = []
  for i in range(num):
    hue = (0.1 + i * _GOLDEN_RATIO_CONJUGATE) % 1.0
    value = 1.0 if i % 2 == 0 else 0.8
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, value)
    colors.append([round(255 * r), round(255 * g), round(255 * b)])
  return np.array(colors, np.uint8).reshape(num, 3)


def denormalize_image(image):
  """Inverts `preprocess_ops.normalize_image` (ImageNet mean / std).

  Args:
    image: float `[H, W, 3]` normalized RGB.

  Returns:
    uint8 `[H, W, 3]` RGB.
  """
  image = np.asarray(image, np.float32)
  mean = np.array(preprocess_ops.MEAN_NORM, np.float32)
  std = np.array(preprocess_ops.STDDEV_NORM, np.float32)
  return np.clip(np.round((image * std + mean) * 255.0), 0, 255).astype(
      np.uint8)


def draw_instances(image,
                   boxes,
                   classes,
                   scores,
                   masks=None,
                   class_names: Optional[Mapping[int, str]] = None,
                   min_score: float = 0.5,
                   mask_alpha: float = 0.5,
                   draw_boxes: bool = True):
  """Draws instances on a copy of `image`.

  Instance k (in input order, after dropping scores below `min_score`) gets
  colour `instance_colors(K)[k]`: its mask pixels become
  `round((1 - mask_alpha) * pixel + mask_alpha * colour)`, its box outline and
  a label `"<class name> <score>"` (on a filled box of that colour) are drawn
  at its top-left corner.

  Args:
    image: uint8 `[H, W, 3]` RGB.
    boxes: float `[N, 4]` (ymin, xmin, ymax, xmax) in pixels of `image`.
    classes: int `[N]` data-set category ids.
    scores: float `[N]`.
    masks: optional `[N, H, W]` binary (or probability > 0.5) masks.
    class_names: optional id -> name; ids without a name print as numbers.
    min_score: instances scoring less are not drawn.
    mask_alpha: opacity of the mask colour.
    draw_boxes: also draw the box outlines.

  Returns:
    uint8 `[H, W, 3]` RGB.

  Raises:
    ValueError: if shapes disagree.
  """
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[2] != 3:
    raise ValueError(f'image must be [H, W, 3], got {image.shape}.')
  boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
  classes = np.asarray(classes).reshape(-1)
  scores = np.asarray(scores, np.float32).reshape(-1)
  n = boxes.shape[0]
  if classes.shape[0] != n or scores.shape[0] != n:
    raise ValueError(f'{n} boxes, {classes.shape[0]} classes and '
                     f'{scores.shape[0]} scores.')
  if masks is not None:
    masks = np.asarray(masks)
    if masks.shape != (n,) + image.shape[:2]:
      raise ValueError(f'masks must be {(n,) + image.shape[:2]}, got '
                       f'{masks.shape}.')
  keep = np.flatnonzero(scores >= min_score)
  colors = instance_colors(len(keep))
  canvas = image.astype(np.float32)
  if masks is not None:
    for color, k in zip(colors, keep):
      on = masks[k].astype(np.float32) > 0.5
      canvas[on] = (1.0 - mask_alpha) * canvas[on] + mask_alpha * color
  pil = Image.fromarray(np.round(canvas).astype(np.uint8))
  draw = ImageDraw.Draw(pil)
  font = ImageFont.load_default()
  class_names = class_names or {}
  for color, k in zip(colors, keep):
    ymin, xmin, ymax, xmax = boxes[k].tolist()
    color = tuple(int(c) for c in color)
    if draw_boxes:
      draw.rectangle([xmin, ymin, xmax, ymax], outline=color, width=1)
    label = f'{class_names.get(int(classes[k]), int(classes[k]))} ' \
            f'{scores[k]:.2f}'
    left, top, right, bottom = draw.textbbox((xmin, ymin), label, font=font)
    draw.rectangle([left, top, right, bottom], fill=color)
    draw.text((xmin, ymin), label, fill=(0, 0, 0), font=font)
  return np.asarray(pil)
