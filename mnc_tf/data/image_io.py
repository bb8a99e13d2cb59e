# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The one image reader: files -> 8-bit RGB, for the converters and predict.

`read_rgb(path)` gives the uint8 `[H, W, 3]` array that both the converters
(`load_image`, which stores it in a tf.Example) and `mnc_tf.predict` use, so
a file means the same picture in training and in prediction:

  * EXIF orientation is applied (the picture as a viewer shows it; height and
    width are those after the rotation);
  * 16-bit grayscale (`I;16*`) is scaled by 255 / 65535 (not clipped at
    255); 32-bit `I` / `F` data is scaled the same way when it exceeds 255;
    16-bit RGB(A) PNGs are reduced to 8 bits by Pillow's decoder;
  * grayscale (`L`, `1`) is replicated to three channels; palette (`P`,
    `PA`) is expanded; alpha (`RGBA`, `LA`, `PA`) is dropped (the colour
    under it is kept); `CMYK` and `YCbCr` use Pillow's conversion.

`load_image` stores RGB JPEGs and RGB PNGs without EXIF rotation byte for
byte; everything else is re-encoded from `read_rgb`'s array: a JPEG source
as JPEG (quality 95, no chroma subsampling), any other source (PNG, BMP,
GIF, TIFF, WebP, ...) as lossless PNG.
"""

import io
import os

import numpy as np
from PIL import Image
from PIL import ImageOps

from mnc_tf.data import errors

JPEG_QUALITY = 95
_SIXTEEN_BIT_MODES = ('I;16', 'I;16B', 'I;16L', 'I;16N')
_EXIF_ORIENTATION = 0x0112


def _exif_orientation(pil_image):
  try:
    return int(pil_image.getexif().get(_EXIF_ORIENTATION, 1) or 1)
  except Exception:  # pylint: disable=broad-except
    return 1  # unreadable EXIF: no rotation, as viewers do


def _to_rgb_array(pil_image):
  """Any PIL mode -> uint8 `[H, W, 3]` (see the module docstring)."""
  mode = pil_image.mode
  if mode in _SIXTEEN_BIT_MODES or mode in ('I', 'F'):
    array = np.asarray(pil_image, dtype=np.float64)
    peak = array.max() if array.size else 0.0
    if mode in _SIXTEEN_BIT_MODES or peak > 255:
      array = array * (255.0 / (65535.0 if peak <= 65535 else peak))
    gray = np.clip(np.round(array), 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)
  if mode in ('P', 'PA'):
    pil_image = pil_image.convert('RGBA')
  if pil_image.mode != 'RGB':
    pil_image = pil_image.convert('RGB')
  return np.asarray(pil_image, dtype=np.uint8)


def _open(path):
  """Decodes `path` completely: (PIL image, source format, raw bytes)."""
  if not os.path.isfile(path):
    raise errors.InvalidRecordError(errors.MISSING_IMAGE,
                                    'no image file at %s' % path)
  with open(path, 'rb') as f:
    raw = f.read()
  try:
    pil_image = Image.open(io.BytesIO(raw))
    source_format = (pil_image.format or '').upper()
    pil_image.load()  # Decodes every byte: catches truncated files.
  except Image.UnidentifiedImageError:
    raise errors.InvalidRecordError(
        errors.CORRUPT_IMAGE, 'cannot decode %s (not an image format Pillow '
        'knows; is it an image file?)' % path) from None
  except Exception as e:  # PIL raises many types for broken files.
    raise errors.InvalidRecordError(
        errors.CORRUPT_IMAGE,
        'cannot decode %s (%s: %s)' % (path, type(e).__name__, e)) from None
  if pil_image.width <= 0 or pil_image.height <= 0:
    raise errors.InvalidRecordError(errors.CORRUPT_IMAGE,
                                    'empty image %s' % path)
  return pil_image, source_format, raw


def _oriented_rgb(pil_image):
  """(uint8 `[H, W, 3]` after EXIF rotation, whether a rotation applied)."""
  if _exif_orientation(pil_image) != 1:
    try:
      return _to_rgb_array(ImageOps.exif_transpose(pil_image)), True
    except Exception:  # pylint: disable=broad-except
      pass  # a broken orientation tag: the stored pixels, as viewers do
  return _to_rgb_array(pil_image), False


def read_rgb(path):
  """The picture in an image file as uint8 `[H, W, 3]` RGB.

  Args:
    path: the image file.

  Returns:
    uint8 array `[height, width, 3]` (after EXIF rotation).

  Raises:
    errors.InvalidRecordError: `missing_image` when the file does not exist,
      `corrupt_image` when it is not an image or cannot be decoded
      completely (e.g. truncated). Its message names the file.
  """
  pil_image, _, _ = _open(path)
  return _oriented_rgb(pil_image)[0]


def _encode(array, image_format):
  buffer = io.BytesIO()
  pil_image = Image.fromarray(array, mode='RGB')
  if image_format == 'jpeg':
    pil_image.save(buffer, format='JPEG', quality=JPEG_QUALITY,
                   subsampling=0)
  else:
    pil_image.save(buffer, format='PNG')
  return buffer.getvalue()


def load_image(path):
  """Reads, checks and (if needed) converts one image file for a tf.Example.

  Args:
    path: the image file.

  Returns:
    (encoded, image_format, height, width): RGB image bytes that decode to
    `read_rgb(path)` (exactly for PNG output; within JPEG re-encoding error
    when a JPEG source needed conversion), 'jpeg' or 'png', and the size in
    pixels after EXIF rotation.

  Raises:
    errors.InvalidRecordError: `missing_image` / `corrupt_image`.
  """
  pil_image, source_format, raw = _open(path)
  if pil_image.mode == 'RGB' and _exif_orientation(pil_image) == 1:
    if source_format == 'JPEG':
      return raw, 'jpeg', pil_image.height, pil_image.width
    if source_format == 'PNG':
      return raw, 'png', pil_image.height, pil_image.width
  array, _ = _oriented_rgb(pil_image)
  image_format = 'jpeg' if source_format == 'JPEG' else 'png'
  height, width = array.shape[:2]
  return _encode(array, image_format), image_format, height, width
