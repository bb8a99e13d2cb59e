"""Differentiable RoI warping (MNC paper §4, Eq. 6-9; docs/design.md §4).

`roi_warp` crops and bilinearly warps each box of a feature map to a fixed
S x S grid, optionally max pooled to P x P, as a differentiable function of both
the features and the box coordinates.  Two implementations compute the same
math: the compiled custom op (`custom`, fast, CPU and optionally GPU kernels)
and a pure-TensorFlow twin (`tf`, stock ops only).  A third stock-op form,
`crop_and_resize` (one fused `tf.image.crop_and_resize`), is what exported
inference graphs use.
"""

import logging
import math

import tensorflow as tf

from mnc_tf.ops import roi_warp_custom
from mnc_tf.ops.roi_warp_crop_and_resize import roi_warp_crop_and_resize
from mnc_tf.ops.roi_warp_twin import roi_warp_twin

IMPLEMENTATIONS = ('auto', 'custom', 'tf', 'crop_and_resize')
_warned = []


def custom_op_available():
  """True if the compiled op library loads."""
  return roi_warp_custom.load() is not None


def _resolve(implementation):
  if implementation not in IMPLEMENTATIONS:
    raise ValueError(f'implementation must be one of {IMPLEMENTATIONS}, '
                     f'got {implementation!r}.')
  if implementation != 'auto':
    return implementation
  if custom_op_available():
    return 'custom'
  if not _warned:
    _warned.append(True)
    logging.warning('mnc_tf: the RoI-warp custom op is not available (%s); '
                    'using the pure-TensorFlow implementation, which is '
                    'slower. Run `make install` to build it.',
                    roi_warp_custom.load_error())
  return 'tf'


def _check_args(output_size, spatial_scale, pooled_size):
  if not isinstance(output_size, int) or output_size < 1:
    raise ValueError(f'output_size must be a positive int, got {output_size!r}.')
  if not (isinstance(spatial_scale, (int, float))
          and math.isfinite(spatial_scale) and spatial_scale > 0):
    raise ValueError('spatial_scale must be a finite positive number, got '
                     f'{spatial_scale!r}.')
  if not isinstance(pooled_size, int) or pooled_size < 0:
    raise ValueError(f'pooled_size must be None or an int >= 0, got '
                     f'{pooled_size!r}.')
  if pooled_size and output_size % pooled_size:
    raise ValueError(f'output_size ({output_size}) must be divisible by '
                     f'pooled_size ({pooled_size}).')


def roi_warp(features, boxes, output_size=28, spatial_scale=1.0 / 16,
             pooled_size=None, implementation='auto', name=None):
  """Warps boxes of a feature map to a fixed grid, differentiably.

  Args:
    features: `[B, H, W, C]` float32 (also float64, float16, bfloat16) map.
    boxes: `[B, K, 4]` boxes (ymin, xmin, ymax, xmax) in pixels of the
      network input image; cast to float32 (float64 with float64 features:
      16-bit features keep float32 box coordinates).  Boxes with a
      non-finite coordinate give zeros; zero-size, inverted and out-of-map
      boxes follow the sampling formula (zero padding outside the map).
    output_size: S, side of the bilinear sampling grid (28 in MNC).
    spatial_scale: s, feature-map pixels per image pixel (1/16 for stride 16).
    pooled_size: None or 0 for no pooling; P > 0 fuses a max pool of the S x S
      grid to P x P (S % P == 0), whose gradient routes through the argmax.
    implementation: 'auto' (custom op if built, else the TF twin with a
      one-time warning), 'custom', 'tf' or 'crop_and_resize' (stock ops,
      computed in float32, for inference graphs; its gradients are
      TensorFlow's CropAndResize ones).
    name: optional name scope.

  Returns:
    `[B, K, S, S, C]` (no pooling) or `[B, K, P, P, C]` tensor, dtype of
    `features`; differentiable w.r.t. `features` and `boxes`.

  Raises:
    ValueError: bad attributes or static shapes.
    tf.errors.InvalidArgumentError: bad dynamic shapes (custom op).
  """
  pooled_size = int(pooled_size or 0)
  _check_args(output_size, spatial_scale, pooled_size)
  with tf.name_scope(name or 'roi_warp'):
    features = tf.convert_to_tensor(features)
    if not features.dtype.is_floating:
      raise ValueError(f'features must be floating point, got {features.dtype}.')
    boxes = tf.cast(tf.convert_to_tensor(boxes),
                    tf.float64 if features.dtype == tf.float64 else tf.float32)
    if features.shape.rank is not None and features.shape.rank != 4:
      raise ValueError(f'features must be [B, H, W, C], got {features.shape}.')
    if boxes.shape.rank is not None and (
        boxes.shape.rank != 3 or boxes.shape[-1] not in (None, 4)):
      raise ValueError(f'boxes must be [B, K, 4], got {boxes.shape}.')
    if (features.shape.rank and boxes.shape.rank and features.shape[0]
        is not None and boxes.shape[0] is not None
        and features.shape[0] != boxes.shape[0]):
      raise ValueError(f'features batch {features.shape[0]} != boxes batch '
                       f'{boxes.shape[0]}.')
    resolved = _resolve(implementation)
    if resolved == 'custom':
      return roi_warp_custom.roi_warp_custom(
          features, boxes, output_size, float(spatial_scale), pooled_size)
    if resolved == 'crop_and_resize':
      return roi_warp_crop_and_resize(features, boxes, output_size,
                                      float(spatial_scale), pooled_size)
    return roi_warp_twin(features, boxes, output_size, float(spatial_scale),
                         pooled_size)
