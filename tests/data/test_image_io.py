# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The one image reader: each kind of file against NumPy / PIL expectations.

For every kind, `image_io.read_rgb` (what `predict` sees) must equal the
expectation, and the bytes `image_io.load_image` stores for the converters
must decode (with TF, as the input pipeline decodes them) to the same array:
exactly when stored as PNG, within JPEG re-encoding error otherwise.
"""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from mnc_tf.data import errors
from mnc_tf.data import image_io

H, W = 12, 18
_ORIENTATION = 0x0112


def _rgb(seed=0):
  return np.random.default_rng(seed).integers(0, 256, (H, W, 3), np.uint8)


def _smooth(seed=0):
  """A photo-like gradient (JPEG re-encoding error stays ~1 level)."""
  yy, xx = np.mgrid[0:H, 0:W]
  base = np.stack([yy * 180.0 / H, xx * 180.0 / W, (yy + xx) * 90.0 / (H + W)],
                  axis=-1) + 30 + 20 * seed
  return np.clip(base, 0, 255).astype(np.uint8)


def _png16(path, array):
  """Writes a 16-bit PNG (gray [H, W] or RGB [H, W, 3]) with zlib only."""
  height, width = array.shape[:2]
  color_type = 2 if array.ndim == 3 else 0
  rows = array.astype('>u2').reshape(height, -1).tobytes()
  stride = len(rows) // height
  raw = b''.join(b'\x00' + rows[r * stride:(r + 1) * stride]
                 for r in range(height))

  def chunk(kind, data):
    return (struct.pack('>I', len(data)) + kind + data
            + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
  with open(path, 'wb') as f:
    f.write(b'\x89PNG\r\n\x1a\n'
            + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 16,
                                         color_type, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


def _sixteen_bit_gray(path):
  # Mostly above 255: clipping (the old predict bug) would give white.
  gray = (np.arange(H * W, dtype=np.int64).reshape(H, W) * 300) % 65536
  _png16(path, gray.astype(np.uint16))
  eight = np.round(gray * 255.0 / 65535.0).astype(np.uint8)
  return np.repeat(eight[..., None], 3, axis=2)


def _sixteen_bit_rgb(path):
  rgb = np.random.default_rng(1).integers(0, 65536, (H, W, 3), np.uint16)
  _png16(path, rgb)
  return (rgb >> 8).astype(np.uint8)  # the high byte (Pillow's decoder)


def _gray(path, image_format):
  gray = _rgb()[..., 0]
  Image.fromarray(gray, 'L').save(path, format=image_format, quality=95)
  if image_format == 'JPEG':  # the expectation is the decoded gray JPEG
    gray = np.asarray(Image.open(path))
  return np.repeat(gray[..., None], 3, axis=2)


def _palette(path):
  indices = np.random.default_rng(2).integers(0, 4, (H, W), np.uint8)
  palette = np.array([[255, 0, 0], [0, 128, 0], [10, 20, 250],
                      [200, 200, 7]], np.uint8)
  image = Image.fromarray(indices, 'P')
  image.putpalette(palette.ravel().tolist() + [0] * (768 - 12))
  image.save(path, transparency=1)  # a transparent index: colour kept
  return palette[indices]


def _rgba(path):
  rgba = np.random.default_rng(3).integers(0, 256, (H, W, 4), np.uint8)
  Image.fromarray(rgba, 'RGBA').save(path)
  return rgba[..., :3]


def _gray_alpha(path):
  la = np.random.default_rng(4).integers(0, 256, (H, W, 2), np.uint8)
  Image.fromarray(la, 'LA').save(path)
  return np.repeat(la[..., :1], 3, axis=2)


def _cmyk_jpeg(path):
  Image.fromarray(_smooth(1)).convert('CMYK').save(path, format='JPEG',
                                                quality=95)
  with Image.open(path) as cmyk:  # PIL's CMYK -> RGB of the decoded pixels
    return np.asarray(cmyk.convert('RGB'))


def _exif_rotated(path, image_format):
  """Orientation 6: the stored pixels are shown rotated 90 deg clockwise."""
  stored = _rgb(6) if image_format == 'PNG' else _smooth(2)
  exif = Image.Exif()
  exif[_ORIENTATION] = 6
  Image.fromarray(stored).save(path, format=image_format, exif=exif,
                               quality=95)
  if image_format == 'JPEG':
    stored = np.asarray(Image.open(path))  # the decoded stored pixels
  return np.rot90(stored, k=-1)


KINDS = {
    'gray16.png': (_sixteen_bit_gray, 'png'),
    'rgb16.png': (_sixteen_bit_rgb, 'png'),
    'gray.png': (lambda p: _gray(p, 'PNG'), 'png'),
    'gray.jpg': (lambda p: _gray(p, 'JPEG'), 'jpeg'),
    'palette.png': (_palette, 'png'),
    'rgba.png': (_rgba, 'png'),
    'gray_alpha.png': (_gray_alpha, 'png'),
    'cmyk.jpg': (_cmyk_jpeg, 'jpeg'),
    'exif6.png': (lambda p: _exif_rotated(p, 'PNG'), 'png'),
    'exif6.jpg': (lambda p: _exif_rotated(p, 'JPEG'), 'jpeg'),
}


@pytest.mark.parametrize('name', sorted(KINDS))
def test_reader_and_converter_see_the_same_picture(tmp_path, name):
  make, stored_format = KINDS[name]
  path = str(tmp_path / name)
  expected = make(path)
  got = image_io.read_rgb(path)
  assert got.dtype == np.uint8 and got.shape == expected.shape
  np.testing.assert_array_equal(got, expected)

  encoded, image_format, height, width = image_io.load_image(path)
  assert (image_format, height, width) == (stored_format,) + got.shape[:2]
  decoded = tf.io.decode_image(encoded, channels=3).numpy()
  if image_format == 'png':
    np.testing.assert_array_equal(decoded, got)
  else:  # re-encoded at quality 95
    assert np.abs(decoded.astype(int) - got).mean() < 2.0


def test_plain_rgb_files_are_stored_byte_for_byte(tmp_path):
  for name, image_format in (('a.jpg', 'JPEG'), ('b.png', 'PNG')):
    path = str(tmp_path / name)
    Image.fromarray(_rgb()).save(path, format=image_format)
    with open(path, 'rb') as f:
      assert image_io.load_image(path)[0] == f.read()


@pytest.mark.parametrize('content,detail', [
    (b'this is not an image', 'not an image format'),
    ('truncated', '(?i)truncated'),
])
def test_unreadable_files_are_corrupt_image(tmp_path, content, detail):
  path = str(tmp_path / 'bad.jpg')
  if content == 'truncated':
    buffer = io.BytesIO()
    Image.fromarray(_rgb()).save(buffer, format='JPEG')
    content = buffer.getvalue()[:len(buffer.getvalue()) // 2]
  with open(path, 'wb') as f:
    f.write(content)
  for read in (image_io.read_rgb, image_io.load_image):
    with pytest.raises(errors.InvalidRecordError, match=detail) as info:
      read(path)
    assert info.value.reason == errors.CORRUPT_IMAGE
    assert path in str(info.value) and '\n' not in str(info.value)
  with pytest.raises(errors.InvalidRecordError) as info:
    image_io.read_rgb(os.path.join(str(tmp_path), 'missing.png'))
  assert info.value.reason == errors.MISSING_IMAGE
