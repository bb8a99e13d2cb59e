"""Pure-TensorFlow twin of the RoI-warp op (docs/design.md §4), by autodiff.

It computes exactly what the custom op computes, with stock TensorFlow ops only,
so that the package works without a compiler and exported graphs load in stock
TF Serving.  Gradients w.r.t. features and boxes come from TensorFlow's autodiff.

Sampling math, for a box (y1, x1, y2, x2) in input-image pixels, scale s and
output size S:

    y0 = y1 * s - 0.5,   bh = (y2 - y1) * s / S,   y_i = y0 + (i + 0.5) * bh
    out[b, k, i, j, c] = sum_{v, u} kappa(y_i - v) kappa(x_j - u) F[b, v, u, c]
    kappa(t) = max(0, 1 - |t|)

with (v, u) ranging over the pixels of the map only (zero padding outside).
Boxes with a non-finite coordinate give a zero output and zero gradient.
"""

import tensorflow as tf

from mnc_tf.ops.roi_pooling import max_pool_rois


def _axis_taps(start, end, size, spatial_scale, output_size):
  """Bilinear taps along one axis.

  Args:
    start: `[B, K]` box start coordinate (input-image pixels).
    end: `[B, K]` box end coordinate.
    size: scalar int32 tensor, the feature-map extent along this axis.
    spatial_scale: Python float.
    output_size: Python int S.

  Returns:
    (idx0, idx1, w0, w1): `[B, K, S]` int32 tap indices clipped into
    `[0, size)` and their weights (zero for taps outside the map).
  """
  dtype = start.dtype
  offsets = (tf.range(output_size, dtype=dtype) + 0.5) / output_size
  pos = (start[..., None] * spatial_scale - 0.5
         + offsets * ((end - start) * spatial_scale)[..., None])
  size_f = tf.cast(size, dtype)
  # Clip before flooring so that far-away boxes never overflow int32; the
  # clipped taps are outside the map and get zero weight below.
  base = tf.floor(tf.clip_by_value(tf.stop_gradient(pos), -2.0, size_f + 1.0))
  taps = []
  for tap in (base, base + 1.0):
    valid = tf.logical_and(tap >= 0.0, tap <= size_f - 1.0)
    weight = tf.maximum(tf.zeros_like(pos), 1.0 - tf.abs(pos - tap))
    weight = tf.where(valid, weight, tf.zeros_like(weight))
    index = tf.cast(tf.clip_by_value(tap, 0.0, tf.maximum(size_f - 1.0, 0.0)),
                    tf.int32)
    taps.append((index, weight))
  (idx0, w0), (idx1, w1) = taps
  return idx0, idx1, w0, w1


def roi_warp_twin(features, boxes, output_size=28, spatial_scale=1.0 / 16,
                  pooled_size=0):
  """RoI warping with stock TensorFlow ops.

  Args:
    features: `[B, H, W, C]` float tensor.
    boxes: `[B, K, 4]` float boxes (ymin, xmin, ymax, xmax) in input-image
      pixels (computed in float32 for 16-bit features, else in the features'
      dtype).
    output_size: S, the side of the sampled grid.
    spatial_scale: s, feature-map pixels per input-image pixel (1/16 for a
      stride-16 map).
    pooled_size: P; 0 for none, otherwise the S x S grid is max pooled to
      P x P (S must be divisible by P).

  Returns:
    `[B, K, S, S, C]` (P = 0) or `[B, K, P, P, C]` warped features.
  """
  features = tf.convert_to_tensor(features)
  boxes = tf.convert_to_tensor(boxes)
  if pooled_size and output_size % pooled_size:
    raise ValueError(f'output_size ({output_size}) must be divisible by '
                     f'pooled_size ({pooled_size}).')
  compute_dtype = features.dtype
  if compute_dtype in (tf.float16, tf.bfloat16):
    compute_dtype = tf.float32
  feats = tf.cast(features, compute_dtype)
  finite = tf.reduce_all(tf.math.is_finite(boxes), axis=-1)  # [B, K]
  safe_boxes = tf.where(finite[..., None], tf.cast(boxes, compute_dtype),
                        tf.zeros_like(boxes, dtype=compute_dtype))
  height, width = tf.shape(feats)[1], tf.shape(feats)[2]
  if not (feats.shape[1] and feats.shape[2]):
    # The map may be empty: pad one zero pixel so that clipped indices stay
    # gatherable (the pad is never given weight).
    feats = tf.pad(feats, [[0, 0], [0, 1], [0, 1], [0, 0]])
  shape = tf.shape(feats)
  y1, x1, y2, x2 = tf.unstack(safe_boxes, axis=-1)
  ys0, ys1, wy0, wy1 = _axis_taps(y1, y2, height, spatial_scale, output_size)
  xs0, xs1, wx0, wx1 = _axis_taps(x1, x2, width, spatial_scale, output_size)

  def gather(ys, xs):
    # ys, xs: [B, K, S] -> [B, K, S, S, C]
    flat = ys[..., :, None] * shape[2] + xs[..., None, :]
    flat_feats = tf.reshape(feats, [shape[0], -1, shape[3]])
    num_k = tf.shape(flat)[1]
    gathered = tf.gather(flat_feats, tf.reshape(flat, [shape[0], -1]),
                         batch_dims=1)
    return tf.reshape(gathered,
                      [shape[0], num_k, output_size, output_size, shape[3]])

  def outer(wy, wx):
    return (wy[..., :, None] * wx[..., None, :])[..., None]

  out = (outer(wy0, wx0) * gather(ys0, xs0) + outer(wy0, wx1) * gather(ys0, xs1)
         + outer(wy1, wx0) * gather(ys1, xs0) + outer(wy1, wx1) * gather(ys1, xs1))
  out = out * tf.cast(finite, compute_dtype)[..., None, None, None]
  if pooled_size:
    out = max_pool_rois(out, pooled_size)
  return tf.cast(out, features.dtype)
