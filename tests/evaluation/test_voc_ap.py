# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the VOC AP computation against hand-computed values."""
import numpy as np
import pytest

from mnc_tf.evaluation import voc_ap


def test_11_point_hand_computed():
  # TP, FP, TP with 4 positives: recall .25 .25 .5, precision 1 .5 .667.
  recall = np.array([0.25, 0.25, 0.5])
  precision = np.array([1.0, 0.5, 2.0 / 3.0])
  # t = 0, .1, .2 -> 1; t = .3, .4, .5 -> 2/3; t >= .6 -> 0.
  expected = (3 * 1.0 + 3 * 2.0 / 3.0) / 11.0
  assert voc_ap.voc_ap(recall, precision, True) == pytest.approx(expected)


def test_area_hand_computed():
  recall = np.array([0.25, 0.25, 0.5])
  precision = np.array([1.0, 0.5, 2.0 / 3.0])
  # Envelope: 1 on (0, .25], 2/3 on (.25, .5], 0 beyond.
  expected = 0.25 * 1.0 + 0.25 * 2.0 / 3.0
  assert voc_ap.voc_ap(recall, precision, False) == pytest.approx(expected)


def test_recall_exactly_on_an_11_point_threshold_counts():
  # recall .3 must reach the t = 0.3 point (np.arange's 0.30000000000000004
  # would miss it).
  assert voc_ap.voc_ap([0.3], [1.0], True) == pytest.approx(4.0 / 11.0)


def test_perfect_and_empty():
  assert voc_ap.voc_ap([0.5, 1.0], [1.0, 1.0], True) == pytest.approx(1.0)
  assert voc_ap.voc_ap([0.5, 1.0], [1.0, 1.0], False) == pytest.approx(1.0)
  assert voc_ap.voc_ap([], [], True) == 0.0


def test_length_mismatch_is_an_error():
  with pytest.raises(ValueError, match='same length'):
    voc_ap.voc_ap([0.1, 0.2], [1.0])
