# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Instance-segmentation evaluator: COCO box/mask AP and SDS mAP^r.

Accumulates, image by image, the detections (full-image binary masks in
original-image pixels, stored as RLE) and, when no COCO annotation file is
given, the ground truth; `evaluate()` then runs

* pycocotools' COCOeval for boxes and masks (through Model Garden's
  `coco_utils.COCOWrapper`), giving `box_AP, box_AP50, box_AP75, box_APs,
  box_APm, box_APl, box_ARmax1, ...` and the same with a `mask_` prefix;
* the SDS protocol (`sds_metrics.evaluate_sds`), giving `mAPr50`, `mAPr70`;
* optionally, COCO AP / AP50 / recall at IoU 0.5 per instance-size bin of
  the user's choosing (`size_bins`; COCO's fixed small / medium / large
  split puts nearly every instance of a small-object set in "small").

Only images seen by `add_detections` are evaluated, including
those with no detections at all (their ground truth still counts).
"""
import contextlib
import copy
import io
from typing import Any, Dict, Optional, Sequence

from absl import logging
import numpy as np
from pycocotools import cocoeval
from pycocotools import mask as mask_api

from official.vision.evaluation import coco_utils
from mnc_tf.evaluation import sds_metrics

COCO_METRIC_NAMES = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'ARmax1',
                     'ARmax10', 'ARmax100', 'ARs', 'ARm', 'ARl')


def encode_masks(masks):
  """uint8 `[N, H, W]` binary masks -> list of N RLE dicts (str counts)."""
  masks = np.asarray(masks)
  if masks.ndim != 3:
    raise ValueError(f'masks must be [N, H, W], got shape {masks.shape}.')
  rles = []
  for mask in masks:
    rle = mask_api.encode(np.asfortranarray((mask > 0).astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    rles.append(rle)
  return rles



def check_size_bins(size_bins):
  """`size_bins` as floats; ValueError unless positive and increasing."""
  edges = [float(e) for e in size_bins]
  if any(not e > 0 for e in edges) or any(
      b <= a for a, b in zip(edges, edges[1:])):
    raise ValueError('size_bins must be positive and increasing, got '
                     f'{list(size_bins)}.')
  return edges


def size_bin_ranges(edges):
  """Size-bin labels and COCOeval area ranges for increasing `edges`.

  Args:
    edges: increasing sizes (sqrt of area, pixels), e.g. [10, 20, 40].

  Returns:
    A list of (label, [min_area, max_area]): ('0-10', [0, 100]), ...,
    ('40-inf', [1600, 1e10]); [] for no edges.
  """
  if not edges:
    return []
  bounds = [0.0] + list(edges) + [float('inf')]
  return [('%g-%g' % (lo, hi), [lo * lo, min(hi * hi, 1e10)])
          for lo, hi in zip(bounds, bounds[1:])]


def _pycocotools_quiet():
  """A context swallowing pycocotools' prints (progress, summary table).

  The Task reports the metrics; train.py prints them once, as a table.
  """
  return contextlib.redirect_stdout(io.StringIO())


def _mean_defined(values):
  values = values[values > -1]
  return float(values.mean()) if values.size else -1.0


def _size_bin_metrics(coco_eval, area_index):
  """AP, AP50 and recall at IoU 0.5 of one area range of an accumulated eval.

  Args:
    coco_eval: a COCOeval after `accumulate()`; IoU thresholds from 0.5.
    area_index: index of the range in `coco_eval.params.areaRng`.

  Returns:
    {'AP', 'AP50', 'R50'}: means over the categories with instances in the
    range (at the largest maxDets), -1 where none has.
  """
  precision = coco_eval.eval['precision']  # [T, R, K, A, M]
  recall = coco_eval.eval['recall']  # [T, K, A, M]
  return {'AP': _mean_defined(precision[:, :, :, area_index, -1]),
          'AP50': _mean_defined(precision[0, :, :, area_index, -1]),
          'R50': _mean_defined(recall[0, :, area_index, -1])}


class InstanceSegmentationEvaluator:
  """COCO (box + mask) and SDS (mAP^r) evaluation of instance masks."""

  def __init__(self,
               annotation_file: Optional[str] = None,
               sds_iou_thresholds: Sequence[float] = (0.5, 0.7),
               sds_use_07_metric: bool = True,
               max_num_eval_detections: int = 100,
               per_category_metrics: bool = False,
               size_bins: Sequence[float] = ()):
    """Initializes the evaluator.

    Args:
      annotation_file: COCO-format JSON of the evaluation split (original
        image sizes). If None, the ground truth comes from
        `add_groundtruth` (the Task feeds it
        `batch_conversion.image_groundtruths`).
      sds_iou_thresholds: mask IoU thresholds for mAP^r.
      sds_use_07_metric: 11-point VOC07 AP for mAP^r (MNC's evaluator) or
        the VOC 2010+ area.
      max_num_eval_detections: COCOeval's largest maxDets.
      per_category_metrics: also return per-category COCO mask AP and SDS AP.
      size_bins: increasing edges, in original-image pixels, of instance
        size = sqrt(COCO `area`, the mask's pixel count): (10, 20, 40) adds
        the bins 0-10, 10-20, 20-40 and 40-inf, each with its box and mask
        AP, AP50 and recall at IoU 0.5 (`<prefix>AP_BySize/10-20`, ...).

    Raises:
      ValueError: if `size_bins` is not increasing and positive.
    """
    self._size_bins = size_bin_ranges(check_size_bins(size_bins))
    self._annotation_file = annotation_file
    self._sds_iou_thresholds = tuple(sds_iou_thresholds)
    self._sds_use_07_metric = sds_use_07_metric
    self._max_dets = int(max_num_eval_detections)
    self._per_category_metrics = per_category_metrics
    self._file_gt = None
    if annotation_file:
      with _pycocotools_quiet():
        self._file_gt = coco_utils.COCOWrapper(
            eval_type='mask', annotation_file=annotation_file)
    self.reset_states()

  @property
  def name(self):
    return 'instance_metrics'

  @property
  def file_groundtruth(self):
    """The annotation file's COCO object (pycocotools), or None."""
    return self._file_gt

  def reset_states(self):
    """Forgets all detections (and ground truth not from a file)."""
    self._detections = {}   # image id -> list of COCO result dicts
    self._image_sizes = {}  # image id -> (height, width)
    self._groundtruths = {}  # image id -> list of COCO annotation dicts

  # ----------------------------------------------------------------- input
  def add_groundtruth(self, image_id, height, width, classes, masks,
                      is_crowd=None):
    """Adds the ground truth of one image (when no annotation file is used).

    Args:
      image_id: int image id.
      height, width: original image size.
      classes: int `[G]` data-set category ids.
      masks: uint8 `[G, height, width]` binary masks.
      is_crowd: optional bool `[G]`.
    """
    if self._file_gt is not None:
      raise ValueError('Ground truth comes from the annotation file '
                       f'{self._annotation_file}; do not add it by hand.')
    image_id = int(image_id)
    masks = np.asarray(masks).reshape(-1, int(height), int(width))
    classes = np.asarray(classes).reshape(-1)
    if classes.shape[0] != masks.shape[0]:
      raise ValueError(f'Image {image_id}: {classes.shape[0]} classes but '
                       f'{masks.shape[0]} masks.')
    crowd = (np.zeros(len(classes), bool) if is_crowd is None
             else np.asarray(is_crowd, bool).reshape(-1))
    anns = []
    for rle, cls, crowd_flag in zip(encode_masks(masks), classes, crowd):
      x, y, w, h = mask_api.toBbox(rle).tolist()
      anns.append({'image_id': image_id, 'category_id': int(cls),
                   'segmentation': rle, 'area': float(mask_api.area(rle)),
                   'bbox': [x, y, w, h], 'iscrowd': int(crowd_flag)})
    self._groundtruths[image_id] = anns
    self._image_sizes[image_id] = (int(height), int(width))

  def add_detections(self, image_id, boxes, classes, scores, masks):
    """Adds the detections of one image (original-image pixels).

    Args:
      image_id: int image id.
      boxes: float `[D, 4]` (ymin, xmin, ymax, xmax), original-image pixels.
      classes: int `[D]` data-set category ids.
      scores: float `[D]`.
      masks: uint8 `[D, H, W]` binary full-image masks at the original size.
    """
    image_id = int(image_id)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    classes = np.asarray(classes).reshape(-1)
    scores = np.asarray(scores, np.float64).reshape(-1)
    masks = np.asarray(masks)
    num = boxes.shape[0]
    if not classes.shape[0] == scores.shape[0] == masks.shape[0] == num:
      raise ValueError(
          f'Image {image_id}: boxes {boxes.shape}, classes {classes.shape}, '
          f'scores {scores.shape} and masks {masks.shape} disagree in length.')
    if self._file_gt is not None:
      if image_id not in self._file_gt.imgs:
        raise ValueError(f'Image id {image_id} is not in the annotation file '
                         f'{self._annotation_file}.')
      info = self._file_gt.imgs[image_id]
      size = (int(info['height']), int(info['width']))
      if num and masks.shape[1:] != size:
        raise ValueError(f'Image {image_id}: masks are {masks.shape[1:]} but '
                         f'the annotation file says the image is {size}.')
    results = self._detections.setdefault(image_id, [])
    for box, cls, score, rle in zip(boxes, classes, scores,
                                    encode_masks(masks)):
      results.append({
          'image_id': image_id, 'category_id': int(cls), 'score': float(score),
          'bbox': [float(box[1]), float(box[0]), float(box[3] - box[1]),
                   float(box[2] - box[0])],
          'segmentation': rle})
    if num:
      self._image_sizes.setdefault(image_id, tuple(masks.shape[1:]))

  # ------------------------------------------------------------ evaluation
  def _coco_groundtruth(self, image_ids):
    if self._file_gt is not None:
      return self._file_gt
    images = [{'id': i, 'height': self._image_sizes[i][0],
               'width': self._image_sizes[i][1]} for i in image_ids]
    anns = []
    for i in image_ids:
      for ann in self._groundtruths.get(i, []):
        ann = copy.deepcopy(ann)
        ann['id'] = len(anns) + 1
        anns.append(ann)
    categories = [{'id': c} for c in sorted({a['category_id'] for a in anns})]
    with _pycocotools_quiet():
      return coco_utils.COCOWrapper(eval_type='mask', gt_dataset={
          'images': images, 'annotations': anns, 'categories': categories})

  def _coco_metrics(self, coco_gt, image_ids):
    detections = [copy.deepcopy(d) for i in image_ids
                  for d in self._detections.get(i, [])]
    for k, d in enumerate(detections):
      d['id'] = k + 1
    with _pycocotools_quiet():
      coco_dt = coco_gt.loadRes(predictions=detections)
    metrics = {}
    for iou_type, prefix in (('bbox', 'box_'), ('segm', 'mask_')):
      coco_eval = cocoeval.COCOeval(coco_gt, coco_dt, iouType=iou_type)
      coco_eval.params.imgIds = list(image_ids)
      coco_eval.params.maxDets = [1, 10, self._max_dets]
      # Extra area ranges after COCO's four: summarize() finds its own by
      # label, so the standard numbers are unchanged.
      num_standard = len(coco_eval.params.areaRng)
      for label, area_range in self._size_bins:
        coco_eval.params.areaRng.append(area_range)
        coco_eval.params.areaRngLbl.append(label)
      with _pycocotools_quiet():
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
      for name, value in zip(COCO_METRIC_NAMES, coco_eval.stats):
        if name == 'ARmax100':
          name = f'ARmax{self._max_dets}'
        metrics[prefix + name] = float(value)
      for a, (label, _) in enumerate(self._size_bins, start=num_standard):
        metrics.update({f'{prefix}{name}_BySize/{label}': value
                        for name, value in _size_bin_metrics(
                            coco_eval, a).items()})
      if self._per_category_metrics and iou_type == 'segm':
        precision = coco_eval.eval['precision']  # [T, R, K, A, M]
        for k, cat in enumerate(coco_eval.params.catIds):
          p = precision[:, :, k, 0, -1]
          p = p[p > -1]
          metrics[f'mask_AP_ByCategory/{cat}'] = (
              float(p.mean()) if p.size else -1.0)
    return metrics

  def _sds_inputs(self, coco_gt, image_ids):
    groundtruths, detections = {}, {}
    for i in image_ids:
      anns = coco_gt.imgToAnns.get(i, [])
      groundtruths[i] = sds_metrics.ImageGroundtruth(
          classes=np.array([a['category_id'] for a in anns], np.int64),
          rles=[coco_gt.annToRLE(a) for a in anns],
          ignore=np.array([bool(a.get('iscrowd', 0)) for a in anns], bool))
      dets = self._detections.get(i, [])
      detections[i] = sds_metrics.ImageDetections(
          classes=np.array([d['category_id'] for d in dets], np.int64),
          scores=np.array([d['score'] for d in dets], np.float64),
          rles=[d['segmentation'] for d in dets])
    return groundtruths, detections

  def evaluate(self) -> Dict[str, Any]:
    """Runs COCO and SDS evaluation over the images seen so far.

    Returns:
      A flat dict of float metrics: `box_*`, `mask_*` (COCO; -1 where COCO
      leaves a metric undefined), `mAPr50`, `mAPr70` (one per threshold), and
      with `per_category_metrics`, `mask_AP_ByCategory/<id>` and
      `APr50_ByCategory/<id>`; with `size_bins`, `{box,mask}_{AP,AP50,R50}
      _BySize/<lo>-<hi>`.

    Raises:
      ValueError: if no image was added.
    """
    image_ids = sorted(self._detections)
    if not image_ids:
      raise ValueError('No detections were added: nothing to evaluate.')
    coco_gt = self._coco_groundtruth(image_ids)
    metrics = self._coco_metrics(coco_gt, image_ids)
    sds = sds_metrics.evaluate_sds(*self._sds_inputs(coco_gt, image_ids),
                                   iou_thresholds=self._sds_iou_thresholds,
                                   use_07_metric=self._sds_use_07_metric)
    for key, value in sds.items():
      if key.startswith('per_class_'):
        if self._per_category_metrics:
          for cat, ap in value.items():
            metrics[f'{key[len("per_class_"):]}_ByCategory/{cat}'] = ap
      else:
        metrics[key] = value
    logging.info('Evaluated %d images: %s', len(image_ids),
                 {k: round(v, 4) for k, v in metrics.items()
                  if '/' not in k})
    return metrics

  def result(self) -> Dict[str, Any]:
    """`evaluate()`, then `reset_states()`."""
    metrics = self.evaluate()
    self.reset_states()
    return metrics
