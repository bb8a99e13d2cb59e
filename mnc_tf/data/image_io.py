# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Reads an image file into RGB JPEG / PNG bytes for a tf.Example.

RGB JPEGs and RGB PNGs are stored byte for byte.  Everything else is
converted to 8-bit RGB: grayscale (`L`, `1`, 16-bit `I;16` / `I`), `LA`,
`RGBA` / `PA` (alpha dropped), palette (`P`), `CMYK` and `YCbCr`.  A JPEG
source is re-encoded as JPEG (quality 95, no chroma subsampling); any other
source (PNG, BMP, GIF, TIFF, WebP, ...) as lossless PNG.
"""

import io
import os

import numpy as np
from PIL import Image

from mnc_tf.data import errors

JPEG_QUALITY = 95


def _to_rgb(pil_image):
  """Converts any PIL mode to 8-bit RGB."""
  mode = pil_image.mode
  if mode == 'RGB':
    return pil_image
  if mode in ('I', 'I;16', 'I;16B', 'I;16L', 'F'):
    array = np.asarray(pil_image, dtype=np.float64)
    peak = array.max() if array.size else 0.0
    if peak > 255:
      # 16-bit (or wider) grayscale: rescale to 8 bits.
      array = array * (255.0 / (65535.0 if peak <= 65535 else peak))
    array = np.clip(np.round(array), 0, 255).astype(np.uint8)
    return Image.fromarray(array, mode='L').convert('RGB')
  if mode in ('P', 'PA'):
    pil_image = pil_image.convert('RGBA')
  return pil_image.convert('RGB')


def _encode(pil_image, image_format):
  buffer = io.BytesIO()
  if image_format == 'jpeg':
    pil_image.save(buffer, format='JPEG', quality=JPEG_QUALITY,
                   subsampling=0)
  else:
    pil_image.save(buffer, format='PNG')
  return buffer.getvalue()


def load_image(path):
  """Reads, checks and (if needed) converts one image file.

  Args:
    path: the image file.

  Returns:
    (encoded, image_format, height, width): the RGB image as bytes,
    'jpeg' or 'png', and its size in pixels.

  Raises:
    errors.InvalidRecordError: `missing_image` when the file does not exist,
      `corrupt_image` when it cannot be decoded completely.
  """
  if not os.path.isfile(path):
    raise errors.InvalidRecordError(errors.MISSING_IMAGE,
                                    'no image file at %s' % path)
  with open(path, 'rb') as f:
    raw = f.read()
  try:
    pil_image = Image.open(io.BytesIO(raw))
    source_format = (pil_image.format or '').upper()
    pil_image.load()  # Decodes every byte: catches truncated files.
    width, height = pil_image.size
  except Exception as e:  # PIL raises many types for broken files.
    raise errors.InvalidRecordError(
        errors.CORRUPT_IMAGE,
        'cannot decode %s (%s: %s)' % (path, type(e).__name__, e)) from None
  if width <= 0 or height <= 0:
    raise errors.InvalidRecordError(errors.CORRUPT_IMAGE,
                                    'empty image %s' % path)

  if source_format == 'JPEG' and pil_image.mode == 'RGB':
    return raw, 'jpeg', height, width
  if source_format == 'PNG' and pil_image.mode == 'RGB':
    return raw, 'png', height, width
  image_format = 'jpeg' if source_format == 'JPEG' else 'png'
  return _encode(_to_rgb(pil_image), image_format), image_format, height, width


def decode_rgb(encoded):
  """Decodes bytes written by `load_image` to a uint8 [H, W, 3] array."""
  return np.asarray(Image.open(io.BytesIO(encoded)).convert('RGB'))
