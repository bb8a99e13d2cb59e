# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Where an instance-segmentation model loses, per stage and instance size.

Pure counting (pycocotools and NumPy) behind
`python -m mnc_tf.benchmarks.stage_breakdown`; every number is over the
non-crowd ground-truth instances of a COCO annotation file, binned by their
COCO `area` (the mask's pixel count) into COCOeval's own ranges (`all`,
`small` <= 32^2, `medium` 32^2-96^2, `large` >= 96^2; both ends included, as
COCOeval includes them):

* stage 1, proposals: the share of instances that some proposal overlaps at
  box IoU >= 0.5 (and >= 0.7);
* boxes and masks: COCO box / mask AP and AP50 of the final detections
  (`InstanceSegmentationEvaluator`, i.e. pycocotools' COCOeval);
* masks given a correct box: detections are matched to instances as COCOeval
  matches them at box IoU 0.5 (same category, highest score first, each
  instance once, the unmatched instance of highest IoU); over the matched
  pairs, the mean mask IoU and the share with mask IoU >= 0.5.

Boxes are (ymin, xmin, ymax, xmax) in original-image pixels unless named
`_xywh` (COCO's x, y, width, height).
"""
from typing import Any, Dict, List, Sequence

import numpy as np
from pycocotools import cocoeval
from pycocotools import mask as mask_api

from mnc_tf.evaluation import instance_evaluator

PROPOSAL_IOU_THRESHOLDS = (0.5, 0.7)
MATCH_IOU_THRESHOLD = 0.5
# COCOeval's area ranges: ('all', [0, 1e10]), ('small', [0, 1024]), ...
_COCO_PARAMS = cocoeval.Params(iouType='segm')
SIZE_RANGES = tuple(zip(_COCO_PARAMS.areaRngLbl,
                        (tuple(r) for r in _COCO_PARAMS.areaRng)))
# The evaluator's size bins with the same edges (sqrt of the area).
_EVALUATOR_BINS = {'small': '0-32', 'medium': '32-96', 'large': '96-inf'}


def yxyx_to_xywh(boxes):
  """float `[N, 4]` (ymin, xmin, ymax, xmax) -> float64 `[N, 4]` COCO xywh."""
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  return np.stack([boxes[:, 1], boxes[:, 0], boxes[:, 3] - boxes[:, 1],
                   boxes[:, 2] - boxes[:, 0]], axis=1)


def box_ious(boxes_xywh, gt_boxes_xywh):
  """pycocotools box IoU: float64 `[N, G]` (zeros when either is empty)."""
  boxes_xywh = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
  gt_boxes_xywh = np.asarray(gt_boxes_xywh, np.float64).reshape(-1, 4)
  if not boxes_xywh.size or not gt_boxes_xywh.size:
    return np.zeros((boxes_xywh.shape[0], gt_boxes_xywh.shape[0]))
  return np.asarray(mask_api.iou(boxes_xywh, gt_boxes_xywh,
                                 [0] * gt_boxes_xywh.shape[0]), np.float64)


def in_size_range(areas, size_range):
  """bool `[G]`: `areas` in the closed range `size_range` (COCOeval's rule)."""
  areas = np.asarray(areas, np.float64).reshape(-1)
  return (areas >= size_range[0]) & (areas <= size_range[1])


def proposal_coverage(proposals, gt_boxes_xywh,
                      thresholds=PROPOSAL_IOU_THRESHOLDS):
  """Which instances some proposal overlaps at each IoU threshold.

  Args:
    proposals: float `[P, 4]` (ymin, xmin, ymax, xmax), the image's
      proposals (zero-area padding rows cover nothing).
    gt_boxes_xywh: float `[G, 4]` the image's instances, COCO xywh.
    thresholds: IoU thresholds; an instance is covered at t when its best
      proposal's IoU is >= t.

  Returns:
    bool `[G, T]`.
  """
  ious = box_ious(yxyx_to_xywh(proposals), gt_boxes_xywh)
  best = ious.max(axis=0) if ious.shape[0] else np.zeros(ious.shape[1])
  return best[:, None] >= np.asarray(thresholds, np.float64)[None, :]


def match_detections(det_boxes_xywh, det_classes, det_scores, gt_boxes_xywh,
                     gt_classes, iou_threshold=MATCH_IOU_THRESHOLD):
  """COCOeval's greedy matching at one box-IoU threshold.

  Detections, highest score first, each take the unmatched instance of their
  category with the highest box IoU >= `iou_threshold`.

  Args:
    det_boxes_xywh: float `[D, 4]`; det_classes: int `[D]`; det_scores:
      float `[D]`.
    gt_boxes_xywh: float `[G, 4]`; gt_classes: int `[G]` (non-crowd).
    iou_threshold: the box IoU a match needs.

  Returns:
    list of (detection index, instance index) pairs.
  """
  ious = box_ious(det_boxes_xywh, gt_boxes_xywh)
  det_classes = np.asarray(det_classes).reshape(-1)
  gt_classes = np.asarray(gt_classes).reshape(-1)
  order = np.argsort(-np.asarray(det_scores, np.float64).reshape(-1),
                     kind='mergesort')
  taken = np.zeros(gt_classes.shape[0], bool)
  pairs = []
  for d in order:
    candidates = ~taken & (gt_classes == det_classes[d]) & (
        ious[d] >= iou_threshold)
    if candidates.any():
      g = int(np.argmax(np.where(candidates, ious[d], -1.0)))
      taken[g] = True
      pairs.append((int(d), g))
  return pairs


def mask_iou(det_rle, gt_rle):
  """pycocotools mask IoU of two RLEs (float)."""
  return float(np.asarray(mask_api.iou([det_rle], [gt_rle], [0]))[0, 0])


class StageBreakdown:
  """Accumulates, image by image, the three stages' counts of one model."""

  def __init__(self, annotation_file: str, max_num_eval_detections=100):
    """Reads the ground truth.

    Args:
      annotation_file: COCO JSON of the validation set (original pixels).
      max_num_eval_detections: COCOeval's largest maxDets.
    """
    self._evaluator = instance_evaluator.InstanceSegmentationEvaluator(
        annotation_file=annotation_file,
        max_num_eval_detections=max_num_eval_detections,
        size_bins=(32, 96))
    self._coco = self._evaluator.file_groundtruth
    self._annotation_file = annotation_file
    self._areas = []       # per instance seen
    self._covered = []     # bool [T] per instance seen
    self._matches = []     # (instance area, mask IoU) per matched pair
    self._image_ids = set()

  @property
  def num_images(self):
    """Images added so far."""
    return len(self._image_ids)

  @property
  def annotated_image_ids(self):
    """The annotation file's image ids, sorted."""
    return sorted(self._coco.imgs)

  def _instances(self, image_id):
    if image_id not in self._coco.imgs:
      raise ValueError(f'Image id {image_id} is not in the annotation file '
                       f'{self._annotation_file}.')
    anns = [a for a in self._coco.imgToAnns.get(image_id, [])
            if not a.get('iscrowd', 0)]
    return anns

  def add_image(self, image_id, proposals, boxes, classes, scores, masks):
    """Adds one image's proposals and final detections.

    Args:
      image_id: int, an image of the annotation file.
      proposals: float `[P, 4]` (ymin, xmin, ymax, xmax), original pixels.
      boxes: float `[D, 4]` (ymin, xmin, ymax, xmax), original pixels.
      classes: int `[D]` data-set category ids.
      scores: float `[D]`.
      masks: uint8 `[D, H, W]` binary full-image masks, original size.
    """
    image_id = int(image_id)
    if image_id in self._image_ids:
      raise ValueError(f'Image id {image_id} was added twice.')
    anns = self._instances(image_id)
    self._evaluator.add_detections(image_id, boxes, classes, scores, masks)
    self._image_ids.add(image_id)
    gt_xywh = np.array([a['bbox'] for a in anns], np.float64).reshape(-1, 4)
    areas = [float(a['area']) for a in anns]
    self._areas.extend(areas)
    self._covered.extend(proposal_coverage(proposals, gt_xywh))
    boxes_xywh = yxyx_to_xywh(boxes)
    pairs = match_detections(boxes_xywh, classes, scores, gt_xywh,
                             [a['category_id'] for a in anns])
    if pairs:
      rles = instance_evaluator.encode_masks(
          np.asarray(masks)[[d for d, _ in pairs]])
      for rle, (_, g) in zip(rles, pairs):
        self._matches.append(
            (areas[g], mask_iou(rle, self._coco.annToRLE(anns[g]))))

  def result(self) -> Dict[str, Dict[str, Any]]:
    """Per size range ('all', 'small', 'medium', 'large'), the numbers.

    Returns:
      {size: {'instances', 'proposal_recall50', 'proposal_recall70',
      'box_AP', 'box_AP50', 'mask_AP', 'mask_AP50', 'box_matched',
      'matched_mask_iou', 'matched_mask_iou50'}}; recalls and shares are
      None (AP -1, COCOeval's convention) where the range has no instance
      (no matched pair for the two mask-IoU numbers).

    Raises:
      ValueError: if no image was added.
    """
    if not self._image_ids:
      raise ValueError('No image was added: nothing to evaluate.')
    coco = self._evaluator.evaluate()
    return summarize(self._areas, self._covered, self._matches, coco)


def _ratio(numerator, denominator):
  return float(numerator) / denominator if denominator else None


def summarize(areas: Sequence[float], covered: Sequence[Sequence[bool]],
              matches: Sequence[Any], coco_metrics: Dict[str, float]
              ) -> Dict[str, Dict[str, Any]]:
  """The per-size table of one model from its accumulated counts.

  Args:
    areas: float `[G]`, the area of every instance seen.
    covered: bool `[G, T]`, `proposal_coverage` of each instance at
      `PROPOSAL_IOU_THRESHOLDS`.
    matches: (instance area, mask IoU) of each box-matched detection.
    coco_metrics: `InstanceSegmentationEvaluator.evaluate()` with size bins
      (32, 96).

  Returns:
    See `StageBreakdown.result`.
  """
  areas = np.asarray(areas, np.float64).reshape(-1)
  covered = np.asarray(covered, bool).reshape(areas.shape[0],
                                              len(PROPOSAL_IOU_THRESHOLDS))
  match_areas = np.array([a for a, _ in matches], np.float64)
  match_ious = np.array([m for _, m in matches], np.float64)
  table = {}
  for label, size_range in SIZE_RANGES:
    instances = in_size_range(areas, size_range)
    matched = in_size_range(match_areas, size_range)
    count = int(instances.sum())
    ious = match_ious[matched]
    row = {'instances': count}
    for t, threshold in enumerate(PROPOSAL_IOU_THRESHOLDS):
      row['proposal_recall%d' % round(threshold * 100)] = _ratio(
          covered[instances, t].sum(), count)
    for kind in ('box', 'mask'):
      for metric in ('AP', 'AP50'):
        key = (f'{kind}_{metric}' if label == 'all' else
               f'{kind}_{metric}_BySize/{_EVALUATOR_BINS[label]}')
        row[f'{kind}_{metric}'] = float(coco_metrics[key])
    row['box_matched'] = int(matched.sum())
    row['matched_mask_iou'] = float(ious.mean()) if ious.size else None
    row['matched_mask_iou50'] = _ratio((ious >= 0.5).sum(), ious.size)
    table[label] = row
  return table


def table_rows(results: Dict[str, Dict[str, Dict[str, Any]]]) -> List[str]:
  """Markdown table: one row per model and size range."""
  columns = (('instances', 'instances', '%d'),
             ('proposal R@0.5', 'proposal_recall50', '%.3f'),
             ('proposal R@0.7', 'proposal_recall70', '%.3f'),
             ('box AP', 'box_AP', '%.3f'), ('box AP50', 'box_AP50', '%.3f'),
             ('mask AP', 'mask_AP', '%.3f'),
             ('mask AP50', 'mask_AP50', '%.3f'),
             ('box-matched', 'box_matched', '%d'),
             ('mask IoU given box', 'matched_mask_iou', '%.3f'),
             ('share mask IoU >= 0.5 given box', 'matched_mask_iou50', '%.3f'))
  lines = ['| model | size | ' + ' | '.join(c[0] for c in columns) + ' |',
           '|' + '---|' * (len(columns) + 2)]
  for model, table in results.items():
    for label, _ in SIZE_RANGES:
      row = table[label]
      cells = []
      for _, key, fmt in columns:
        value = row[key]
        undefined = value is None or (key.endswith(('AP', 'AP50'))
                                      and value < 0)
        cells.append('n/a' if undefined else fmt % value)
      lines.append('| %s | %s | %s |' % (model, label, ' | '.join(cells)))
  return lines
