# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""mAP^r: region (mask) average precision by the SDS protocol.

The protocol of Hariharan et al. (SDS, ECCV 2014) as MNC's released evaluator
(`voc_eval_sds`) implements it, class by class:

1. rank every detection of the class over the whole data set by score
   (ties keep their input order);
2. for each detection, in that order, find the ground-truth instance of the
   class in the same image with the highest mask IoU (already matched ones
   included);
3. if that IoU >= the threshold and the instance is not yet matched, the
   detection is a true positive and the instance becomes matched; otherwise
   (IoU too low, or the best instance was already taken) it is a false
   positive;
4. AP is the VOC AP of the resulting precision/recall curve (11-point by
   default, as in `voc_eval_sds`).

mAP^r is the mean over the classes that have ground truth. Ground truth marked
`ignore` (crowd / difficult) does not count towards recall, and a detection
whose best match is such an instance is neither a true nor a false positive
(the VOC devkit's rule for difficult objects).

Masks are pycocotools RLEs of full-image binary masks, so mask IoU is exact.
"""
import collections
import dataclasses
from typing import Dict, List, Mapping, Sequence

import numpy as np
from pycocotools import mask as mask_api

from mnc_tf.evaluation import voc_ap as voc_ap_lib


@dataclasses.dataclass
class ImageGroundtruth:
  """Ground truth of one image.

  Attributes:
    classes: int array `[G]`, data-set category ids.
    rles: list of G pycocotools RLE dicts (full-image masks).
    ignore: bool array `[G]` (crowd or difficult), or None for all False.
  """
  classes: np.ndarray
  rles: List[dict]
  ignore: np.ndarray = None


@dataclasses.dataclass
class ImageDetections:
  """Detections of one image.

  Attributes:
    classes: int array `[D]`, data-set category ids.
    scores: float array `[D]`.
    rles: list of D pycocotools RLE dicts (full-image binary masks, same size
      as the image's ground truth).
  """
  classes: np.ndarray
  scores: np.ndarray
  rles: List[dict]


def match_class(groundtruths: Mapping[int, ImageGroundtruth],
                detections: Mapping[int, ImageDetections],
                class_id: int,
                iou_threshold: float):
  """Marks the score-ranked detections of one class as TP / FP.

  Args:
    groundtruths: image id -> ImageGroundtruth.
    detections: image id -> ImageDetections (images absent here have none).
    class_id: the data-set category id to evaluate.
    iou_threshold: mask IoU needed for a true positive (>=).

  Returns:
    (scores, is_tp, is_fp, num_positives): the detections' scores in ranked
    order `[K]`, bool `[K]` flags (both False for a detection matched to an
    ignored instance) and the number of non-ignored ground-truth instances.

  Raises:
    ValueError: if a detection refers to an image without ground truth entry.
  """
  entries = []  # (score, image_id, index within the image's class subset)
  class_gt = {}
  num_positives = 0
  for image_id, gt in groundtruths.items():
    keep = np.flatnonzero(np.asarray(gt.classes) == class_id)
    ignore = (np.zeros(len(gt.classes), bool) if gt.ignore is None
              else np.asarray(gt.ignore, bool))
    class_gt[image_id] = ([gt.rles[i] for i in keep], ignore[keep])
    num_positives += int(np.sum(~ignore[keep]))
  ious = {}
  for image_id, det in detections.items():
    if image_id not in groundtruths:
      raise ValueError(f'Detections for image {image_id}, which has no '
                       'ground-truth entry.')
    keep = np.flatnonzero(np.asarray(det.classes) == class_id)
    if keep.size == 0:
      continue
    gt_rles, _ = class_gt[image_id]
    det_rles = [det.rles[i] for i in keep]
    if gt_rles:
      ious[image_id] = np.asarray(
          mask_api.iou(det_rles, gt_rles, [0] * len(gt_rles)),
          dtype=np.float64).reshape(len(det_rles), len(gt_rles))
    else:
      ious[image_id] = np.zeros((len(det_rles), 0))
    for row, i in enumerate(keep):
      entries.append((float(det.scores[i]), image_id, row))

  order = sorted(range(len(entries)), key=lambda k: -entries[k][0])
  scores = np.array([entries[k][0] for k in order], dtype=np.float64)
  is_tp = np.zeros(len(order), bool)
  is_fp = np.zeros(len(order), bool)
  taken = {image_id: np.zeros(len(class_gt[image_id][0]), bool)
           for image_id in class_gt}
  for rank, k in enumerate(order):
    _, image_id, row = entries[k]
    overlaps = ious[image_id][row]
    if overlaps.size == 0:
      is_fp[rank] = True
      continue
    best = int(np.argmax(overlaps))
    if overlaps[best] >= iou_threshold:
      if class_gt[image_id][1][best]:
        continue  # Matches an ignored instance: neither TP nor FP.
      if taken[image_id][best]:
        is_fp[rank] = True
      else:
        is_tp[rank] = True
        taken[image_id][best] = True
    else:
      is_fp[rank] = True
  return scores, is_tp, is_fp, num_positives


def class_average_precision(groundtruths, detections, class_id, iou_threshold,
                            use_07_metric=True):
  """VOC AP of one class at one mask-IoU threshold (see `match_class`).

  Returns:
    The AP as a float, or None when the class has no (non-ignored) ground
    truth in `groundtruths`.
  """
  _, is_tp, is_fp, num_positives = match_class(
      groundtruths, detections, class_id, iou_threshold)
  if num_positives == 0:
    return None
  tp = np.cumsum(is_tp)
  fp = np.cumsum(is_fp)
  recall = tp / float(num_positives)
  precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
  return voc_ap_lib.voc_ap(recall, precision, use_07_metric)


def evaluate_sds(groundtruths: Mapping[int, ImageGroundtruth],
                 detections: Mapping[int, ImageDetections],
                 iou_thresholds: Sequence[float] = (0.5, 0.7),
                 use_07_metric: bool = True) -> Dict[str, object]:
  """mAP^r at each mask-IoU threshold over the images in `groundtruths`.

  Args:
    groundtruths: image id -> ImageGroundtruth; these images define the set
      evaluated (an image without detections still counts towards recall).
    detections: image id -> ImageDetections.
    iou_thresholds: mask IoU thresholds, e.g. (0.5, 0.7) as in the paper.
    use_07_metric: 11-point VOC 2007 AP (True) or VOC 2010+ area AP.

  Returns:
    A dict with, for each threshold t (as an integer percentage p = 100 t),
    `mAPr{p}` (mean over classes with ground truth, a float; NaN when no class
    has any) and `per_class_APr{p}` (dict class id -> AP).
  """
  class_ids = sorted({int(c) for gt in groundtruths.values()
                      for c in np.asarray(gt.classes).reshape(-1)})
  results = collections.OrderedDict()
  for threshold in iou_thresholds:
    percent = int(round(100 * threshold))
    per_class = {}
    for class_id in class_ids:
      ap = class_average_precision(groundtruths, detections, class_id,
                                   threshold, use_07_metric)
      if ap is not None:
        per_class[class_id] = ap
    results[f'mAPr{percent}'] = (float(np.mean(list(per_class.values())))
                                 if per_class else float('nan'))
    results[f'per_class_APr{percent}'] = per_class
  return results
