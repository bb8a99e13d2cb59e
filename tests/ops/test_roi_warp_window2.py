"""Tests of the CPU op's single-pass 2 x 2 window kernels (MNC's 28 -> 14).

`custom_ops/roi_warp/roi_warp_cpu_window2.h` handles pooled cells whose four
samples' taps are regular (both taps inside the map, the two samples of an
axis 0 or 1 pixel apart) in four geometries (oy, ox) in {0, 1}^2; other
cells take the general path.  These tests check values and gradients (w.r.t.
features and boxes) against the pure-TF twin in float64 on boxes chosen so
that every geometry and the general path occur, with more than one channel
block (256) and a channel count that is not a multiple of the vector width.
"""

import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.ops import roi_warp_custom
from mnc_tf.ops.roi_warp import roi_warp

SCALE = 1.0 / 4
OUTPUT_SIZE, POOLED_SIZE = 28, 14
HEIGHT, WIDTH, CHANNELS = 12, 14, 300

pytestmark = pytest.mark.skipif(
    roi_warp_custom.load() is None,
    reason=f'custom op not built: {roi_warp_custom.load_error()}')

# (ymin, xmin, ymax, xmax) in input pixels (map = 48 x 56 px at scale 1/4):
# sample spacing (box side / 4 / 28 map px) below 1 px: regular cells with
# o = 0 and o = 1 mixed; above 1 px (side > 112 px): the general path; boxes
# over the border: clipped taps, the general path.
BOXES = np.array([[[3.0, 5.0, 30.0, 41.0],
                   [10.0, 2.0, 47.0, 20.0],
                   [0.0, 0.0, 48.0, 56.0],
                   [-20.0, -8.0, 60.0, 70.0],
                   [7.5, 9.25, 8.5, 10.75],
                   [1.0, 30.0, 46.0, 55.0]]])


def _geometries(boxes):
  """Counts of cells per (oy, ox) geometry and of irregular cells (NumPy)."""

  def axis(start, end, size):
    i = np.arange(OUTPUT_SIZE)
    pos = start * SCALE - 0.5 + (i + 0.5) / OUTPUT_SIZE * (end - start) * SCALE
    base = np.floor(pos)
    ok = (base >= 0) & (base + 1 < size)
    first, second = base[0::2], base[1::2]
    offset = second - first
    regular = ok[0::2] & ok[1::2] & ((offset == 0) | (offset == 1))
    return np.where(regular, offset, -1)

  counts = {}
  for y1, x1, y2, x2 in boxes.reshape(-1, 4):
    oy, ox = axis(y1, y2, HEIGHT), axis(x1, x2, WIDTH)
    for a in oy:
      for b in ox:
        key = 'general' if a < 0 or b < 0 else (int(a), int(b))
        counts[key] = counts.get(key, 0) + 1
  return counts


def test_boxes_cover_every_geometry_and_the_general_path():
  counts = _geometries(BOXES)
  for key in [(0, 0), (0, 1), (1, 0), (1, 1), 'general']:
    assert counts.get(key, 0) > 0, (key, counts)


def test_window2_matches_twin_values_and_gradients():
  rng = np.random.default_rng(0)
  features = tf.constant(rng.standard_normal((1, HEIGHT, WIDTH, CHANNELS)))
  boxes = tf.constant(BOXES)
  weights = tf.constant(rng.standard_normal(
      (1, BOXES.shape[1], POOLED_SIZE, POOLED_SIZE, CHANNELS)))
  results = {}
  for impl in ['custom', 'tf']:
    with tf.GradientTape() as tape:
      tape.watch([features, boxes])
      out = roi_warp(features, boxes, OUTPUT_SIZE, SCALE, POOLED_SIZE,
                     implementation=impl)
      loss = tf.reduce_sum(out * weights)
    results[impl] = [out] + tape.gradient(loss, [features, boxes])
  for name, got, want in zip(['output', 'grad_features', 'grad_boxes'],
                             results['custom'], results['tf']):
    assert np.abs(want.numpy()).max() > 0, name
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10,
                               atol=1e-10, err_msg=name)
