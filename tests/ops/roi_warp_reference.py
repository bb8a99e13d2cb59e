"""Independent NumPy reference of the RoI warp (docs/design.md §4), per loop."""

import numpy as np


def kappa(t):
  return np.maximum(0.0, 1.0 - np.abs(t))


def roi_warp_numpy(features, boxes, output_size, spatial_scale, pooled_size=0):
  """Direct evaluation of the sum over all map pixels.

  Args:
    features: [B, H, W, C] array.
    boxes: [B, K, 4] (ymin, xmin, ymax, xmax) input-image pixels.
    output_size: S.
    spatial_scale: s.
    pooled_size: P (0 = none).

  Returns:
    [B, K, n, n, C] float64 array, n = P or S.
  """
  features = np.asarray(features, np.float64)
  boxes = np.asarray(boxes, np.float64)
  b_count, height, width, channels = features.shape
  k_count = boxes.shape[1]
  S, s = output_size, spatial_scale
  grid = np.zeros((b_count, k_count, S, S, channels))
  rows, cols = np.arange(height), np.arange(width)
  with np.errstate(over='ignore', invalid='ignore'):  # huge boxes
    _fill_grid(grid, features, boxes, S, s, rows, cols)
  if not pooled_size:
    return grid
  w = S // pooled_size
  return grid.reshape(b_count, k_count, pooled_size, w, pooled_size, w,
                      channels).max(axis=(3, 5))


def _fill_grid(grid, features, boxes, S, s, rows, cols):
  b_count, k_count = boxes.shape[:2]
  for b in range(b_count):
    for k in range(k_count):
      y1, x1, y2, x2 = boxes[b, k]
      if not np.all(np.isfinite(boxes[b, k])):
        continue
      for i in range(S):
        yi = y1 * s - 0.5 + (i + 0.5) * (y2 - y1) * s / S
        wy = kappa(yi - rows)  # [H]
        for j in range(S):
          xj = x1 * s - 0.5 + (j + 0.5) * (x2 - x1) * s / S
          wx = kappa(xj - cols)  # [W]
          grid[b, k, i, j] = np.einsum('v,u,vuc->c', wy, wx, features[b])
