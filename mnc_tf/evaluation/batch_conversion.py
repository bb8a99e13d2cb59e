# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Splits batched labels into per-image original-pixel ground truth.

The Task's validation step hands over batched tensors (or per-replica tuples
of them); evaluation wants, per image, binary masks in pixels of the
original image. This module does that conversion in NumPy (the detections
go through `mnc_tf.ops.mask_paste.original_image_detections`).
"""
import io
from typing import Any, Dict, Iterator, Mapping

import numpy as np
from PIL import Image

from mnc_tf.evaluation import original_image


def to_numpy(value):
  """Tensor, per-replica tuple of tensors, or array -> one NumPy array."""
  if isinstance(value, (tuple, list)):
    return np.concatenate([to_numpy(v) for v in value], axis=0)
  if hasattr(value, 'numpy'):
    return value.numpy()
  return np.asarray(value)


def _decode_png_masks(pngs, height, width):
  masks = []
  for png in pngs:
    mask = np.asarray(Image.open(io.BytesIO(png)))
    if mask.ndim == 3:
      mask = mask[..., 0]
    if mask.shape != (height, width):
      raise ValueError(f'A ground-truth PNG mask is {mask.shape}, the image '
                       f'{(height, width)}.')
    masks.append((mask > 0).astype(np.uint8))
  return np.stack(masks) if masks else np.zeros((0, height, width), np.uint8)


def image_groundtruths(labels: Mapping[str, Any]) -> Iterator[Dict[str, Any]]:
  """Yields the ground truth of each image of a batch of labels.

  Uses the parser's `groundtruths` (original-image PNG masks) when it carries
  `masks`; otherwise maps `gt_masks` from the network input back to the
  original size (nearest neighbour, so only approximately the original).

  Args:
    labels: the input pipeline's batched labels: `source_id`, `image_info`,
      `gt_num_instances`, `gt_classes`, `gt_masks` [B, M, Hp, Wp], optional
      `gt_is_crowd`, optional `groundtruths` (Model Garden's COCO-evaluator
      dict with `masks` PNG strings, `classes`, `is_crowds`,
      `num_detections`, `height`, `width`).

  Yields:
    dicts with `image_id`, `height`, `width`, `classes` int64 [G], `masks`
    uint8 [G, height, width], `is_crowd` bool [G].
  """
  groundtruths = labels.get('groundtruths')
  if groundtruths is not None and 'masks' in groundtruths:
    gt = {k: to_numpy(groundtruths[k]) for k in (
        'source_id', 'height', 'width', 'num_detections', 'classes',
        'is_crowds', 'masks')}
    for b in range(gt['source_id'].shape[0]):
      n = int(gt['num_detections'][b])
      height, width = int(gt['height'][b]), int(gt['width'][b])
      yield {'image_id': int(gt['source_id'][b]), 'height': height,
             'width': width,
             'classes': gt['classes'][b][:n].astype(np.int64),
             'masks': _decode_png_masks(gt['masks'][b][:n], height, width),
             'is_crowd': gt['is_crowds'][b][:n].astype(bool)}
    return
  keys = ('source_id', 'image_info', 'gt_num_instances', 'gt_classes',
          'gt_masks')
  missing = [k for k in keys if k not in labels]
  if missing:
    raise ValueError(f'labels lack {missing} (and carry no groundtruths '
                     'masks).')
  gt = {k: to_numpy(labels[k]) for k in keys}
  crowd = (to_numpy(labels['gt_is_crowd']) if 'gt_is_crowd' in labels
           else np.zeros_like(gt['gt_classes']))
  for b in range(gt['source_id'].shape[0]):
    n = int(gt['gt_num_instances'][b])
    height, width = (int(v) for v in np.round(gt['image_info'][b][0]))
    masks = original_image.full_image_masks_to_original(
        gt['gt_masks'][b][:n], gt['image_info'][b]).reshape(-1, height, width)
    yield {'image_id': int(gt['source_id'][b]), 'height': height,
           'width': width, 'classes': gt['gt_classes'][b][:n].astype(np.int64),
           'masks': masks, 'is_crowd': crowd[b][:n].astype(bool)}
