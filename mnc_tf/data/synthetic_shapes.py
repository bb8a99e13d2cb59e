# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""A synthetic instance-segmentation data set: shapes on cluttered backgrounds.

    python -m mnc_tf.data.synthetic_shapes --output_dir=OUT \
        --num_train=300 --num_val=50 --seed=0

writes
    OUT/train/000001.jpg ...   OUT/train.json   (COCO format)
    OUT/val/000001.jpg ...     OUT/val.json

The demo's data set (no data set can be downloaded here), built to be
learnable by a small network in minutes while keeping the paper's hard case:
  * 3 categories with non-contiguous ids: 1 circle, 2 square, 4 triangle
    (names in the JSON), squares and triangles randomly rotated;
  * image sides drawn independently in [min_side, max_side] (default
    128..256 px, so aspect ratios from 1:2 to 2:1);
  * backgrounds: a colour gradient, smooth low-frequency blotches, fine noise,
    thin lines and small blobs (clutter that is not a category);
  * objects of 15-45 % of the shorter image side, filled with a saturated
    colour and shading, 1..max_instances per image;
  * touching and overlapping instances of the same category (a sibling
    placed against an object, often in a similar colour, with probability
    `sibling_prob`); a later object may hide at most `max_occlusion` of an
    earlier one; masks are the visible parts.
Segmentations are compressed RLE (non-crowd), boxes are the masks' tight
boxes, `area` the mask area.  The output is a function of the seed only
(each split and image has its own random stream).
"""

import colorsys
import io
import os
import sys
import time

from absl import app
from absl import flags
import numpy as np
from PIL import Image
from PIL import ImageDraw
from pycocotools import mask as mask_util

from mnc_tf.utils import atomic_io
from mnc_tf.utils import cli

CATEGORIES = ({'id': 1, 'name': 'circle', 'supercategory': 'shape'},
              {'id': 2, 'name': 'square', 'supercategory': 'shape'},
              {'id': 4, 'name': 'triangle', 'supercategory': 'shape'})
# The hard preset's classes: non-contiguous ids, two shapes the demo lacks.
HARD_CATEGORIES = (
    {'id': 1, 'name': 'circle', 'supercategory': 'shape'},
    {'id': 2, 'name': 'square', 'supercategory': 'shape'},
    {'id': 4, 'name': 'triangle', 'supercategory': 'shape'},
    {'id': 7, 'name': 'star', 'supercategory': 'shape'},
    {'id': 10, 'name': 'ring', 'supercategory': 'shape'})
# The mixed preset's classes: other non-contiguous ids, a hexagon.
MIXED_CATEGORIES = (
    {'id': 3, 'name': 'circle', 'supercategory': 'shape'},
    {'id': 7, 'name': 'square', 'supercategory': 'shape'},
    {'id': 11, 'name': 'triangle', 'supercategory': 'shape'},
    {'id': 20, 'name': 'hexagon', 'supercategory': 'shape'})
# Named option sets of `generate_image`.  'demo' is the default set (what
# `make demo` trains on).  'hard': images 160-352 px a side; 3-14 placements
# per image of 5-56 px objects drawn log-uniformly (most under 40 px, about a
# quarter under 10 px), half of them placed against an earlier one (touching
# or overlapping, up to 60 % hidden; instances less than 30 % visible are
# not annotated); textured backgrounds and up to 6 unlabelled distractors
# (crosses, bars, hexagon outlines) of the same sizes and colours.
# 'mixed': small images (180-340 px a side) with 1-5 placements of 5-75 px
# objects (log-uniform: tiny and large ones in the same image), 40 % placed
# against an earlier one; smooth backgrounds; ids 3 / 7 / 11 / 20.
PRESETS = {
    'demo': {},
    'hard': dict(categories=HARD_CATEGORIES, min_side=160, max_side=352,
                 min_instances=3, max_instances=14, object_px=(5.0, 56.0),
                 sibling_prob=0.5, max_occlusion=0.6, max_attempts=120,
                 texture=True, max_distractors=6, min_visible_fraction=0.3),
    'mixed': dict(categories=MIXED_CATEGORIES, min_side=180, max_side=340,
                  min_instances=1, max_instances=5, object_px=(5.0, 75.0),
                  sibling_prob=0.4, max_occlusion=0.5, max_attempts=60,
                  min_visible_fraction=0.3),
}
_SPLIT_STREAM = {'train': 0, 'val': 1}


def _background(rng, height, width):
  """A textured, cluttered float RGB background in [0, 255]."""
  # Colour gradient between two low-saturation colours, at a random angle.
  c0 = np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.35),
                                    rng.uniform(0.3, 0.85))) * 255
  c1 = np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.35),
                                    rng.uniform(0.3, 0.85))) * 255
  angle = rng.uniform(0, 2 * np.pi)
  yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
  t = (np.cos(angle) * xx / width + np.sin(angle) * yy / height)
  t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
  image = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[
      ..., None]
  # Low-frequency blotches.
  grid = rng.normal(0, 1, size=(max(height // 24, 2), max(width // 24, 2), 3))
  grid = ((grid - grid.min()) / max(float(grid.max() - grid.min()), 1e-6)
          * 255).astype(np.uint8)
  blotches = np.asarray(Image.fromarray(grid).resize(
      (width, height), Image.BICUBIC), dtype=np.float32)
  image += (blotches - 127.5) * rng.uniform(0.15, 0.35)
  # Clutter: thin lines and small blobs.
  canvas = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
  draw = ImageDraw.Draw(canvas)
  side = min(height, width)
  for _ in range(int(rng.integers(4, 12))):
    color = tuple(int(v) for v in rng.integers(0, 256, size=3))
    draw.line([tuple(rng.uniform(0, [width, height])),
               tuple(rng.uniform(0, [width, height]))],
              fill=color, width=int(rng.integers(1, 3)))
  for _ in range(int(rng.integers(3, 9))):
    color = tuple(int(v) for v in rng.integers(0, 256, size=3))
    r = rng.uniform(0.01, 0.04) * side
    cx, cy = rng.uniform(0, [width, height])
    if rng.random() < 0.5:
      draw.ellipse([cx - r, cy - r * rng.uniform(0.3, 1), cx + r,
                    cy + r * rng.uniform(0.3, 1)], fill=color)
    else:
      draw.rectangle([cx - r, cy - r * 0.3, cx + r, cy + r * 0.3],
                     fill=color)
  image = np.asarray(canvas, dtype=np.float32)
  return image + rng.normal(0, 6, size=image.shape)


# Area of each shape's full mask as a fraction of size**2 (`size` px across):
# a placement that keeps less than 3/4 of it is mostly outside the image.
_SHAPE_AREA = {'circle': np.pi / 4, 'square': 1.0, 'triangle': 0.393,
               'star': 0.364, 'ring': 0.589, 'hexagon': 0.650, 'bar': 0.25}


def _regular_polygon(cx, cy, radius, n, angle):
  return [(cx + radius * np.cos(angle + 2 * np.pi * k / n),
           cy + radius * np.sin(angle + 2 * np.pi * k / n)) for k in range(n)]


def _shape_mask(shape, cx, cy, size, angle, height, width):
  """Full (unoccluded) boolean mask [height, width] of one shape.

  Args:
    shape: 'circle', 'square', 'triangle', 'star', 'ring', 'hexagon' (the
      categories), 'bar' (a size x size/4 bar: a category or a distractor)
      or 'cross' (distractors only).
    cx, cy: centre in pixels (x right, y down).
    size: extent in pixels across (a square's side, a circle's diameter).
    angle: rotation in radians (ignored for circles and rings).
    height, width: canvas size.
  """
  canvas = Image.new('L', (width, height), 0)
  draw = ImageDraw.Draw(canvas)
  r = size / 2.0
  if shape in ('circle', 'ring'):
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=1)
    if shape == 'ring':
      draw.ellipse([cx - r / 2, cy - r / 2, cx + r / 2, cy + r / 2], fill=0)
  elif shape in ('square', 'triangle', 'hexagon'):
    n = {'square': 4, 'triangle': 3, 'hexagon': 6}[shape]
    # Circumradius: a square of side `size`; a triangle `size` across.
    radius = {'square': r * np.sqrt(2), 'triangle': r * 1.1,
              'hexagon': r}[shape]
    draw.polygon(_regular_polygon(cx, cy, radius, n, angle), fill=1)
  elif shape == 'star':
    outer = _regular_polygon(cx, cy, r * 1.05, 5, angle)
    inner = _regular_polygon(cx, cy, r * 1.05 * 0.45, 5, angle + np.pi / 5)
    draw.polygon([p for pair in zip(outer, inner) for p in pair], fill=1)
  elif shape in ('cross', 'bar'):
    # A plus sign (arms size/3 wide) or a size x size/4 bar, rotated.
    half = r / 3 if shape == 'cross' else r / 4
    arms = ((r, half), (half, r)) if shape == 'cross' else ((r, half),)
    c, s = np.cos(angle), np.sin(angle)
    for a, b in arms:
      corners = [(-a, -b), (a, -b), (a, b), (-a, b)]
      draw.polygon([(cx + c * u - s * v, cy + s * u + c * v)
                    for u, v in corners], fill=1)
  else:
    raise ValueError('synthetic_shapes: unknown shape %r' % (shape,))
  return np.asarray(canvas, dtype=bool)


def _object_color(rng, near=None):
  if near is not None and rng.random() < 0.6:
    hue = (near[0] + rng.uniform(-0.04, 0.04)) % 1.0
  else:
    hue = rng.random()
  return (hue, rng.uniform(0.55, 1.0), rng.uniform(0.55, 1.0))


def _paint(image, mask, hsv, rng):
  """Paints a shaded, slightly noisy colour into `image` under `mask`."""
  base = np.array(colorsys.hsv_to_rgb(*hsv)) * 255
  ys, xs = np.nonzero(mask)
  if ys.size == 0:
    return
  gy, gx = rng.normal(0, 0.6, size=2)
  shade = (gy * (ys - ys.mean()) + gx * (xs - xs.mean())) / max(
      float(np.ptp(ys) + np.ptp(xs)), 1.0) * 60
  image[ys, xs, :] = (base[None, :] + shade[:, None]
                      + rng.normal(0, 5, size=(ys.size, 3)))


def _texture(rng, height, width):
  """A zero-mean float [H, W, 3] texture: stripes, a checkerboard or grain."""
  yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
  kind = int(rng.integers(3))
  if kind == 0:  # Stripes at a random angle and period.
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(4, 14)
    t = np.sin(2 * np.pi * (np.cos(angle) * xx + np.sin(angle) * yy) / period)
  elif kind == 1:  # Checkerboard of random cell size.
    cell = rng.uniform(4, 12)
    t = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2) * 2.0 - 1.0
  else:  # Coarse grain: noise on a grid of 2-4 px cells, upsampled.
    cell = int(rng.integers(2, 5))
    grid = rng.uniform(-1, 1, size=(height // cell + 1, width // cell + 1))
    t = np.kron(grid, np.ones((cell, cell)))[:height, :width]
  tint = rng.uniform(0.5, 1.0, size=3)
  return t[..., None] * tint[None, None, :] * rng.uniform(12, 35)


def _draw_size(rng, side, min_object, max_object, object_px):
  """An object's extent in pixels: relative to `side`, or log-uniform px."""
  if object_px is None:
    return rng.uniform(min_object, max_object) * side
  return float(np.exp(rng.uniform(np.log(object_px[0]),
                                  np.log(object_px[1]))))


def _add_distractors(rng, image, count, min_object, max_object, object_px):
  """Paints `count` unlabelled shapes (crosses, bars, hexagon outlines)."""
  height, width = image.shape[:2]
  side = min(height, width)
  for _ in range(count):
    size = _draw_size(rng, side, min_object, max_object, object_px)
    shape = ('cross', 'bar', 'outline')[int(rng.integers(3))]
    cx, cy = rng.uniform(0, [width, height])
    angle = rng.uniform(0, 2 * np.pi)
    if shape == 'outline':  # A hollow hexagon: a thick contour, no fill.
      mask = (_shape_mask('hexagon', cx, cy, size, angle, height, width)
              & ~_shape_mask('hexagon', cx, cy, size * 0.6, angle, height,
                             width))
    else:
      mask = _shape_mask(shape, cx, cy, size, angle, height, width)
    _paint(image, mask, _object_color(rng), rng)


def generate_image(rng, min_side=128, max_side=256, max_instances=5,
                   min_object=0.15, max_object=0.45, sibling_prob=0.4,
                   max_occlusion=0.5, categories=CATEGORIES, min_instances=1,
                   object_px=None, texture=False, max_distractors=0,
                   max_attempts=40, min_visible_fraction=0.0,
                   image_size=None):
  """Draws one image.

  The defaults are the demo's set; `PRESETS['hard']` turns on the options.

  Args:
    rng: a `np.random.Generator` (the image is a function of its state).
    min_side, max_side: image height and width are drawn independently in
      [min_side, max_side] pixels.
    max_instances: at most this many placements are attempted.
    min_object, max_object: object extent as a fraction of the shorter image
      side (uniform), used when `object_px` is None.
    sibling_prob: probability that a new object is placed against an earlier
      one (touching or overlapping it), of the same category and a similar
      colour.
    max_occlusion: a later object hides at most this fraction of an earlier
      one.
    categories: the category dicts ({'id', 'name', ...}); `name` is the
      shape drawn: 'circle', 'square', 'triangle', 'star', 'ring', 'hexagon'.
    min_instances: at least this many placements are attempted (the count is
      uniform in [min_instances, max_instances]).
    object_px: (smallest, largest) object extent in pixels, drawn
      log-uniformly (many small objects); None uses min/max_object.
    texture: overlay stripes, a checkerboard or coarse grain on the
      background.
    max_distractors: up to this many unlabelled shapes (crosses, bars,
      hexagon outlines) are painted under the objects.
    max_attempts: placement attempts per image.
    min_visible_fraction: instances of which less than this fraction stays
      visible after occlusion are not annotated (they stay in the picture).
    image_size: (height, width) fixes the image size instead of drawing it
      from [min_side, max_side] (the train-step benchmark's 600 x 1000).

  Returns:
    (uint8 image [H, W, 3], list of (category id, bool visible mask [H, W])).
  """
  shapes = {c['id']: c['name'] for c in categories}
  if image_size is not None:
    height, width = int(image_size[0]), int(image_size[1])
  else:
    height = int(rng.integers(min_side, max_side + 1))
    width = int(rng.integers(min_side, max_side + 1))
  side = min(height, width)
  image = _background(rng, height, width)
  if texture:
    image += _texture(rng, height, width)
  if max_distractors:
    _add_distractors(rng, image, int(rng.integers(max_distractors + 1)),
                     min_object, max_object, object_px)
  placed = []  # (category, full mask, hsv)
  target = int(rng.integers(min_instances, max_instances + 1))
  attempts = 0
  while len(placed) < target and attempts < max_attempts:
    attempts += 1
    sibling_of = None
    if placed and rng.random() < sibling_prob:
      sibling_of = placed[int(rng.integers(len(placed)))]
    if sibling_of is not None:
      category, full, hsv = sibling_of
      ys, xs = np.nonzero(full)
      size_a = max(np.ptp(xs), np.ptp(ys)) + 1
      size = _draw_size(rng, side, min_object, max_object, object_px)
      direction = rng.uniform(0, 2 * np.pi)
      # Centre-to-centre distance at which the two shapes touch or overlap.
      dist = (size_a + size) / 2.0 * rng.uniform(0.7, 1.0)
      cx = xs.mean() + dist * np.cos(direction)
      cy = ys.mean() + dist * np.sin(direction)
      color = _object_color(rng, near=hsv)
    else:
      category = categories[int(rng.integers(len(categories)))]['id']
      size = _draw_size(rng, side, min_object, max_object, object_px)
      cx = rng.uniform(size / 2, width - size / 2)
      cy = rng.uniform(size / 2, height - size / 2)
      color = _object_color(rng)
    angle = rng.uniform(0, 2 * np.pi)
    full = _shape_mask(shapes[category], cx, cy, size, angle, height, width)
    area = full.sum()
    # Mostly inside the image, and never hides too much of an earlier one.
    ideal = _SHAPE_AREA[shapes[category]] * size * size
    if area < 0.75 * ideal:
      continue
    if any((prev & full).sum() > max_occlusion * prev.sum()
           for _, prev, _ in placed):
      continue
    placed.append((category, full, color))

  instances = []
  covered = np.zeros((height, width), dtype=bool)
  for category, full, color in reversed(placed):  # Front to back.
    visible = full & ~covered
    covered |= full
    instances.append((category, visible))
  instances.reverse()
  for (category, full, color), (_, visible) in zip(placed, instances):
    _paint(image, full, color, rng)
  image = np.clip(np.round(image), 0, 255).astype(np.uint8)
  return image, [(c, m) for (c, m), (_, full, _) in zip(instances, placed)
                 if m.any() and m.sum() >= min_visible_fraction * full.sum()]


def _rle(mask):
  rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
  return rle, {'size': [int(s) for s in rle['size']],
               'counts': rle['counts'].decode('ascii')}


def generate_split(output_dir, split, num_images, seed, **kwargs):
  """Writes `<output_dir>/<split>/*.jpg` and `<output_dir>/<split>.json`.

  Args:
    output_dir: the data set's folder.
    split: 'train' or 'val' (each has its own random stream; other names
      share a third one).
    num_images: images to write.
    seed: the data set's seed.
    **kwargs: options of `generate_image` (e.g. `**PRESETS['hard']`).

  Returns:
    The path of the JSON file.
  """
  image_dir = os.path.join(output_dir, split)
  os.makedirs(image_dir, exist_ok=True)
  stream = _SPLIT_STREAM.get(split, 2)
  images, annotations = [], []
  for index in range(num_images):
    rng = np.random.default_rng([seed, stream, index])
    image, instances = generate_image(rng, **kwargs)
    image_id = index + 1
    file_name = '%06d.jpg' % image_id
    encoded = io.BytesIO()
    Image.fromarray(image).save(encoded, format='JPEG', quality=92)
    atomic_io.write_bytes(os.path.join(image_dir, file_name),
                          encoded.getvalue())
    images.append({'id': image_id, 'file_name': file_name,
                   'height': int(image.shape[0]),
                   'width': int(image.shape[1])})
    for category, mask in instances:
      rle, json_rle = _rle(mask)
      annotations.append({
          'id': len(annotations) + 1, 'image_id': image_id,
          'category_id': int(category), 'iscrowd': 0,
          'segmentation': json_rle,
          'area': float(mask_util.area(rle)),
          'bbox': [float(v) for v in mask_util.toBbox(rle)],
      })
  categories = kwargs.get('categories', CATEGORIES)
  data = {'info': {'description': 'mnc_tf synthetic shapes, split %s, seed %d'
                                  % (split, seed)},
          'images': images, 'annotations': annotations,
          'categories': [dict(c) for c in categories]}
  json_path = os.path.join(output_dir, split + '.json')
  atomic_io.write_json(json_path, data)
  return json_path


def generate(output_dir, num_train=300, num_val=50, seed=0, **kwargs):
  """Writes both splits; returns {'train': json path, 'val': json path}."""
  paths = {}
  for split, count in (('train', num_train), ('val', num_val)):
    if count > 0:
      paths[split] = generate_split(output_dir, split, count, seed, **kwargs)
  return paths


def define_flags(flag_values=flags.FLAGS):
  """Defines the CLI's flags on `flag_values` (the CLI: absl's global FLAGS)."""
  flags.DEFINE_string('output_dir', None, 'Folder to write the data set to.',
                      flag_values=flag_values)
  flags.DEFINE_enum('preset', 'demo', sorted(PRESETS),
                    'demo: the demo\'s set (make demo); hard: small, '
                    'occluded, touching instances of 5 classes on textured, '
                    'cluttered backgrounds with unlabelled distractors.',
                    flag_values=flag_values)
  flags.DEFINE_integer('num_train', 300, 'Training images.',
                       flag_values=flag_values)
  flags.DEFINE_integer('num_val', 50, 'Validation images.',
                       flag_values=flag_values)
  flags.DEFINE_integer('seed', 0, 'The output is a function of the seed '
                       '(and the options).', flag_values=flag_values)
  flags.DEFINE_integer('min_side', None, 'Smallest image side in pixels '
                       '(default: the preset\'s).', flag_values=flag_values)
  flags.DEFINE_integer('max_side', None, 'Largest image side in pixels '
                       '(default: the preset\'s).', flag_values=flag_values)
  flags.DEFINE_integer('max_instances', None, 'Most instances per image '
                       '(default: the preset\'s).', flag_values=flag_values)
  flags.DEFINE_list('object_px', None, 'MIN,MAX: object extents in pixels, '
                    'drawn log-uniformly (default: the preset\'s).',
                    flag_values=flag_values)
  flags.DEFINE_integer('max_distractors', None, 'Most unlabelled distractors '
                       'per image (default: the preset\'s).',
                       flag_values=flag_values)
  flags.DEFINE_list('classes', None, 'ID:SHAPE,... the categories (shapes: '
                    + ', '.join(sorted(_SHAPE_AREA)) + '), e.g. '
                    '2:square,5:triangle,9:star,11:circle (default: the '
                    'preset\'s).', flag_values=flag_values)


def options_from_flags(flag_values):
  """The `generate_image` options: the preset's, then explicit flags."""
  options = dict(PRESETS[flag_values.preset])
  for name in ('min_side', 'max_side', 'max_instances', 'max_distractors'):
    if flag_values[name].value is not None:
      options[name] = flag_values[name].value
  if flag_values.object_px is not None:
    options['object_px'] = _object_px(flag_values.object_px)
  if flag_values.classes is not None:
    options['categories'] = _categories(flag_values.classes)
  return options


def _object_px(values):
  """'MIN,MAX' -> (min, max) floats; ValueError naming the flag."""
  try:
    low, high = (float(v) for v in values)
  except ValueError:
    low = high = None
  if low is None or not 1 <= low <= high:
    raise ValueError('--object_px must be MIN,MAX with 1 <= MIN <= MAX, got '
                     f'{",".join(values)!r}')
  return (low, high)


def _categories(values):
  """['ID:SHAPE', ...] -> category dicts; ValueError naming the entry."""
  categories = []
  for value in values:
    key, _, shape = value.partition(':')
    if not key.isdigit() or int(key) < 1 or shape not in _SHAPE_AREA:
      raise ValueError(f'--classes entry {value!r} must be ID:SHAPE with an '
                       f'id >= 1 and a shape in {sorted(_SHAPE_AREA)}')
    categories.append({'id': int(key), 'name': shape,
                       'supercategory': 'shape'})
  ids = [c['id'] for c in categories]
  if len(set(ids)) != len(ids):
    raise ValueError(f'--classes has repeated ids: {ids}')
  return tuple(categories)


def run(flag_values):
  """Writes the data set the parsed `flag_values` ask for; returns 0 or 1."""
  if not flag_values.output_dir:
    print('synthetic_shapes: error: --output_dir is required', file=sys.stderr)
    return 1
  try:
    options = options_from_flags(flag_values)
  except ValueError as e:
    print(f'synthetic_shapes: error: {e}', file=sys.stderr)
    return 1
  low = options.get('min_side', 128)
  high = options.get('max_side', 256)
  if not 16 <= low <= high:
    print('synthetic_shapes: error: need 16 <= --min_side (%d) <= --max_side '
          '(%d)' % (low, high), file=sys.stderr)
    return 1
  if options.get('max_instances', 5) < options.get('min_instances', 1):
    print('synthetic_shapes: error: --max_instances (%d) is below the '
          'preset\'s min_instances (%d)' % (options['max_instances'],
                                            options['min_instances']),
          file=sys.stderr)
    return 1
  start = time.time()
  paths = generate(flag_values.output_dir, flag_values.num_train,
                   flag_values.num_val, flag_values.seed, **options)
  for split, path in paths.items():
    print('synthetic_shapes: %s: %s and %s/' % (
        split, path, os.path.join(flag_values.output_dir, split)))
  print('synthetic_shapes: done in %.1f s' % (time.time() - start))
  return 0


def main(argv):
  """Parses `argv` (program name first) on fresh flags and runs."""
  return cli.main_on_fresh_flags('synthetic_shapes', define_flags, run, argv)


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(run(flags.FLAGS)))
