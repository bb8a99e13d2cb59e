# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The RoI warp (docs/design.md §4) as one stock crop_and_resize call.

For inference graphs that must hold stock ops only (the exported SavedModel):
one fused CropAndResize kernel instead of the twin's four gathers and
element-wise passes, 4-5x faster forward on CPU (docs/benchmarks.md).
The sampling points of the RoI warp are those of crop_and_resize once the
normalized box runs from the first to the last sample position; the RoI warp's zero padding outside the map
is reproduced by padding the map with one zero pixel on each side (a sample
within one pixel of the border then interpolates with that zero, and a sample
further out gets crop_and_resize's extrapolation value, 0).

It agrees with `roi_warp_twin` up to float32 rounding of the normalized box
coordinates (crop_and_resize takes float32 boxes), ~1e-5 relative.  It is
differentiable through TensorFlow's CropAndResize gradients (they agree with
the twin's in the tests), but training uses the custom op or the twin, whose
gradients are tested against numerical ones in float64.
"""

import tensorflow as tf

from mnc_tf.ops.roi_pooling import max_pool_rois


def _sample_span(start, end, spatial_scale, output_size):
  """First and last sample positions of one axis, in padded-map pixels."""
  step = (end - start) * spatial_scale / output_size
  first = start * spatial_scale - 0.5 + 0.5 * step + 1.0  # + 1: the pad
  return first, first + (output_size - 1) * step


def roi_warp_crop_and_resize(features, boxes, output_size=28,
                             spatial_scale=1.0 / 16, pooled_size=0):
  """RoI warping (forward) with `tf.image.crop_and_resize`.

  Args:
    features: `[B, H, W, C]` float tensor (computed in float32).
    boxes: `[B, K, 4]` boxes (ymin, xmin, ymax, xmax) in input-image pixels.
      Boxes with a non-finite coordinate give zeros.
    output_size: S, the side of the sampled grid (>= 1).
    spatial_scale: s, feature-map pixels per input-image pixel.
    pooled_size: P; 0 for none, otherwise the S x S grid is max pooled to
      P x P (S % P == 0).

  Returns:
    `[B, K, S, S, C]` (P = 0) or `[B, K, P, P, C]`, dtype of `features`.
  """
  features = tf.convert_to_tensor(features)
  if pooled_size and output_size % pooled_size:
    raise ValueError(f'output_size ({output_size}) must be divisible by '
                     f'pooled_size ({pooled_size}).')
  feats = tf.cast(features, tf.float32)
  boxes = tf.cast(tf.convert_to_tensor(boxes), tf.float32)
  finite = tf.reduce_all(tf.math.is_finite(boxes), axis=-1)  # [B, K]
  boxes = tf.where(finite[..., None], boxes, tf.zeros_like(boxes))
  padded = tf.pad(feats, [[0, 0], [1, 1], [1, 1], [0, 0]])
  shape = tf.shape(padded)
  batch, num_boxes = tf.shape(boxes)[0], tf.shape(boxes)[1]
  height_1 = tf.cast(shape[1] - 1, tf.float32)
  width_1 = tf.cast(shape[2] - 1, tf.float32)
  y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
  y_first, y_last = _sample_span(y1, y2, spatial_scale, output_size)
  x_first, x_last = _sample_span(x1, x2, spatial_scale, output_size)
  # (S = 1: first == last, the point crop_and_resize takes, the box centre.)
  normalized = tf.stack([y_first / height_1, x_first / width_1,
                         y_last / height_1, x_last / width_1], axis=-1)
  box_indices = tf.repeat(tf.range(batch), num_boxes)
  out = tf.image.crop_and_resize(
      padded, tf.reshape(normalized, [-1, 4]), box_indices,
      [output_size, output_size], extrapolation_value=0.0)
  out = tf.reshape(out, [batch, num_boxes, output_size, output_size, shape[3]])
  out = out * tf.cast(finite, tf.float32)[..., None, None, None]
  if pooled_size:
    out = max_pool_rois(out, pooled_size)
  return tf.cast(out, features.dtype)
