# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""PASCAL VOC average precision from a precision/recall curve."""
import numpy as np


def voc_ap(recall, precision, use_07_metric=True):
  """Average precision of one class, the way the VOC devkit computes it.

  Args:
    recall: float array `[K]`, recall after each of the K score-ranked
      detections (non-decreasing).
    precision: float array `[K]`, precision after each detection.
    use_07_metric: True for the VOC 2007 11-point interpolated AP (the mean over
      recall thresholds 0, 0.1, ..., 1 of the highest precision at a recall
      >= the threshold), which is what MNC's released SDS evaluator
      (`voc_eval_sds`) uses; False for the VOC 2010+ area under the
      monotone precision envelope.

  Returns:
    A Python float in [0, 1]. An empty curve (no detections) gives 0.

  Raises:
    ValueError: if the two arrays differ in length.
  """
  recall = np.asarray(recall, dtype=np.float64).reshape(-1)
  precision = np.asarray(precision, dtype=np.float64).reshape(-1)
  if recall.shape != precision.shape:
    raise ValueError('recall and precision must have the same length, got '
                     f'{recall.shape[0]} and {precision.shape[0]}.')
  if recall.size == 0:
    return 0.0
  if use_07_metric:
    ap = 0.0
    for threshold in np.linspace(0.0, 1.0, 11):
      reached = recall >= threshold - 1e-12
      ap += (precision[reached].max() if reached.any() else 0.0) / 11.0
    return float(ap)
  mrec = np.concatenate(([0.0], recall, [1.0]))
  mpre = np.concatenate(([0.0], precision, [0.0]))
  mpre = np.maximum.accumulate(mpre[::-1])[::-1]
  changes = np.where(mrec[1:] != mrec[:-1])[0]
  return float(np.sum((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]))
