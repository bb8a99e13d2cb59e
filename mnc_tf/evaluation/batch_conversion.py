# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Splits batched model outputs / labels into per-image original-pixel records.

The Task's validation step hands over batched tensors (or per-replica tuples
of them); evaluation and drawing want, per image, boxes and binary masks in
pixels of the original image. This module does that conversion in NumPy.
"""
import io
from typing import Any, Dict, Iterator, Mapping

import numpy as np
from PIL import Image

from mnc_tf.evaluation import original_image

PREDICTION_KEYS = ('source_id', 'image_info', 'num_detections',
                   'detection_boxes', 'detection_classes', 'detection_scores',
                   'detection_masks')


def to_numpy(value):
  """Tensor, per-replica tuple of tensors, or array -> one NumPy array."""
  if isinstance(value, (tuple, list)):
    return np.concatenate([to_numpy(v) for v in value], axis=0)
  if hasattr(value, 'numpy'):
    return value.numpy()
  return np.asarray(value)


def image_predictions(predictions: Mapping[str, Any],
                      mask_format: str) -> Iterator[Dict[str, Any]]:
  """Yields one dict per image of a batch of predictions.

  Args:
    predictions: `source_id` [B], `image_info` [B, 4, 2], `num_detections`
      [B], `detection_boxes` [B, N, 4] (network-input pixels, ymin xmin ymax
      xmax), `detection_classes` [B, N], `detection_scores` [B, N],
      `detection_masks` ([B, N, m, m] box-relative probabilities when
      `mask_format` is 'box', [B, N, Hp, Wp] masks over the padded network
      input when it is 'image').
    mask_format: 'box' or 'image'.

  Yields:
    dicts with `image_id` (int), `height`, `width` (original size), `boxes`
    float32 [n, 4] (original pixels), `classes` int64 [n], `scores` float32
    [n], `masks` uint8 [n, height, width] in {0, 1}.

  Raises:
    ValueError: on missing keys or an unknown `mask_format`.
  """
  if mask_format not in ('box', 'image'):
    raise ValueError(f"mask_format must be 'box' or 'image', got "
                     f'{mask_format!r}.')
  missing = [k for k in PREDICTION_KEYS if k not in predictions]
  if missing:
    raise ValueError(f'predictions lack {missing}.')
  pred = {k: to_numpy(predictions[k]) for k in PREDICTION_KEYS}
  for b in range(pred['source_id'].shape[0]):
    image_info = pred['image_info'][b]
    height, width = (int(v) for v in np.round(image_info[0]))
    n = int(pred['num_detections'][b])
    boxes = pred['detection_boxes'][b][:n]
    masks = pred['detection_masks'][b][:n]
    if n == 0:
      orig_masks = np.zeros((0, height, width), np.uint8)
    elif mask_format == 'image':
      orig_masks = original_image.full_image_masks_to_original(masks,
                                                               image_info)
    else:
      orig_masks = original_image.box_masks_to_original(masks, boxes,
                                                        image_info)
    yield {
        'image_id': int(pred['source_id'][b]),
        'height': height, 'width': width,
        'boxes': original_image.boxes_to_original(boxes, image_info),
        'classes': pred['detection_classes'][b][:n].astype(np.int64),
        'scores': pred['detection_scores'][b][:n].astype(np.float32),
        'masks': orig_masks,
    }


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
