# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""COCO `segmentation` fields -> binary masks, with validation.

Every form the COCO format allows is accepted, on crowd and non-crowd
annotations alike:
  * polygons: a list of `[x1, y1, x2, y2, ...]` lists (>= 3 points each);
  * uncompressed RLE: `{'size': [h, w], 'counts': [int, ...]}`;
  * compressed RLE: `{'size': [h, w], 'counts': 'string'}` (str or bytes).

pycocotools does not check its input: a malformed compressed RLE string
decodes into uninitialised memory, a bad uncompressed RLE raises a bare
ValueError or crashes.  So the counts are checked here first.
"""

import math
import numbers

import numpy as np
from pycocotools import mask as mask_util

from mnc_tf.data import errors


def _malformed(detail):
  return errors.InvalidRecordError(errors.MALFORMED_SEGMENTATION, detail)


def decode_compressed_counts(counts):
  """Decodes a COCO compressed-RLE string into run lengths (rleFrString).

  Args:
    counts: str or bytes.

  Returns:
    A list of ints (run lengths, starting with a run of zeros).

  Raises:
    errors.InvalidRecordError: if a character is outside the alphabet or the
      string stops in the middle of a number.
  """
  if isinstance(counts, str):
    try:
      counts = counts.encode('ascii')
    except UnicodeEncodeError:
      raise _malformed('compressed RLE counts are not ASCII') from None
  runs = []
  p = 0
  n = len(counts)
  while p < n:
    x = 0
    k = 0
    more = True
    while more:
      if p >= n:
        raise _malformed('compressed RLE counts end inside a number')
      c = counts[p] - 48
      if c < 0 or c > 63:
        raise _malformed('compressed RLE counts contain the character %r'
                         % chr(counts[p]))
      x |= (c & 0x1f) << (5 * k)
      more = bool(c & 0x20)
      p += 1
      k += 1
      if not more and (c & 0x10):
        x |= -1 << (5 * k)
    if len(runs) > 2:
      x += runs[-2]
    runs.append(x)
  return runs


def _check_runs(runs, height, width, form):
  if any(r < 0 for r in runs):
    raise _malformed('%s RLE has a negative run length' % form)
  total = sum(runs)
  if total != height * width:
    raise _malformed('%s RLE runs sum to %d, not %d x %d = %d pixels'
                     % (form, total, height, width, height * width))


def _check_size(segmentation, height, width):
  size = segmentation.get('size')
  if (not isinstance(size, (list, tuple)) or len(size) != 2
      or not all(isinstance(s, numbers.Integral) for s in size)):
    raise _malformed('RLE size %r is not [height, width]' % (size,))
  if list(size) != [height, width]:
    raise _malformed('RLE size %s differs from the image size [%d, %d]'
                     % (list(size), height, width))


def to_rle(segmentation, height, width):
  """Validates a COCO segmentation and returns one compressed RLE dict.

  Args:
    segmentation: the annotation's `segmentation` value.
    height: image height in pixels.
    width: image width in pixels.

  Returns:
    A pycocotools RLE dict `{'size': [h, w], 'counts': bytes}` (polygons
    merged into one).

  Raises:
    errors.InvalidRecordError: `malformed_segmentation`.
  """
  if isinstance(segmentation, dict):
    _check_size(segmentation, height, width)
    counts = segmentation.get('counts')
    if isinstance(counts, (str, bytes)):
      _check_runs(decode_compressed_counts(counts), height, width, 'compressed')
      if isinstance(counts, str):
        counts = counts.encode('ascii')
      return {'size': [height, width], 'counts': counts}
    if isinstance(counts, (list, tuple)):
      if not all(isinstance(c, numbers.Integral) and not isinstance(c, bool)
                 for c in counts):
        raise _malformed('uncompressed RLE counts must be integers')
      _check_runs(list(counts), height, width, 'uncompressed')
      return mask_util.frPyObjects(
          {'size': [height, width], 'counts': [int(c) for c in counts]},
          height, width)
    raise _malformed('RLE counts of type %s' % type(counts).__name__)

  if isinstance(segmentation, (list, tuple)):
    if not segmentation:
      raise _malformed('empty polygon list')
    polygons = []
    for polygon in segmentation:
      if (not isinstance(polygon, (list, tuple))
          or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                     for v in polygon)):
        raise _malformed('a polygon must be a list of numbers '
                         '[x1, y1, x2, y2, ...]')
      if len(polygon) < 6 or len(polygon) % 2:
        raise _malformed('a polygon has %d coordinates (needs an even number '
                         '>= 6)' % len(polygon))
      if not all(math.isfinite(v) for v in polygon):
        raise _malformed('a polygon has a non-finite coordinate')
      polygons.append([float(v) for v in polygon])
    return mask_util.merge(mask_util.frPyObjects(polygons, height, width))

  raise _malformed('segmentation of type %s' % type(segmentation).__name__)


def to_mask(segmentation, height, width):
  """Decodes a COCO segmentation to a binary mask.

  Args:
    segmentation: the annotation's `segmentation` value (any COCO form).
    height: image height in pixels.
    width: image width in pixels.

  Returns:
    uint8 array [height, width] of 0 / 1.

  Raises:
    errors.InvalidRecordError: `malformed_segmentation`, or `zero_area` when
      the mask has no pixel.
  """
  rle = to_rle(segmentation, height, width)
  mask = np.ascontiguousarray(mask_util.decode(rle), dtype=np.uint8)
  if mask.ndim == 3:  # Defensive: pycocotools returns [h, w, n] for lists.
    mask = mask.max(axis=2)
  if not mask.any():
    raise errors.InvalidRecordError(errors.ZERO_AREA,
                                    'the segmentation covers no pixel')
  return mask
