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

import argparse
import colorsys
import json
import os
import sys
import time

import numpy as np
from PIL import Image
from PIL import ImageDraw
from pycocotools import mask as mask_util

CATEGORIES = ({'id': 1, 'name': 'circle', 'supercategory': 'shape'},
              {'id': 2, 'name': 'square', 'supercategory': 'shape'},
              {'id': 4, 'name': 'triangle', 'supercategory': 'shape'})
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


def _shape_mask(category_id, cx, cy, size, angle, height, width):
  """Full (unoccluded) boolean mask of one shape of `size` px across."""
  canvas = Image.new('L', (width, height), 0)
  draw = ImageDraw.Draw(canvas)
  r = size / 2.0
  if category_id == 1:
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=1)
  else:
    n = 4 if category_id == 2 else 3
    # Circumradius: a square of side `size`; a triangle `size` across.
    radius = r * np.sqrt(2) if n == 4 else r * 1.1
    points = [(cx + radius * np.cos(angle + 2 * np.pi * k / n),
               cy + radius * np.sin(angle + 2 * np.pi * k / n))
              for k in range(n)]
    draw.polygon(points, fill=1)
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


def generate_image(rng, min_side=128, max_side=256, max_instances=5,
                   min_object=0.15, max_object=0.45, sibling_prob=0.4,
                   max_occlusion=0.5, image_size=None):
  """Draws one image.

  `image_size` (height, width) fixes the size instead of drawing the sides
  from [min_side, max_side].

  Returns:
    (uint8 image [H, W, 3], list of (category id, bool visible mask [H, W])).
  """
  if image_size is not None:
    height, width = int(image_size[0]), int(image_size[1])
  else:
    height = int(rng.integers(min_side, max_side + 1))
    width = int(rng.integers(min_side, max_side + 1))
  side = min(height, width)
  image = _background(rng, height, width)
  placed = []  # (category, full mask, hsv)
  target = int(rng.integers(1, max_instances + 1))
  attempts = 0
  while len(placed) < target and attempts < 40:
    attempts += 1
    sibling_of = None
    if placed and rng.random() < sibling_prob:
      sibling_of = placed[int(rng.integers(len(placed)))]
    if sibling_of is not None:
      category, full, hsv = sibling_of
      ys, xs = np.nonzero(full)
      size_a = max(np.ptp(xs), np.ptp(ys)) + 1
      size = rng.uniform(min_object, max_object) * side
      direction = rng.uniform(0, 2 * np.pi)
      # Centre-to-centre distance at which the two shapes touch or overlap.
      dist = (size_a + size) / 2.0 * rng.uniform(0.7, 1.0)
      cx = xs.mean() + dist * np.cos(direction)
      cy = ys.mean() + dist * np.sin(direction)
      color = _object_color(rng, near=hsv)
    else:
      category = CATEGORIES[int(rng.integers(len(CATEGORIES)))]['id']
      size = rng.uniform(min_object, max_object) * side
      cx = rng.uniform(size / 2, width - size / 2)
      cy = rng.uniform(size / 2, height - size / 2)
      color = _object_color(rng)
    angle = rng.uniform(0, 2 * np.pi)
    full = _shape_mask(category, cx, cy, size, angle, height, width)
    area = full.sum()
    # Mostly inside the image, and never hides too much of an earlier one.
    ideal = {1: np.pi / 4, 2: 1.0, 4: 0.393}[category] * size * size
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
  return image, [(c, m) for c, m in instances if m.any()]


def _rle(mask):
  rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
  return rle, {'size': [int(s) for s in rle['size']],
               'counts': rle['counts'].decode('ascii')}


def generate_split(output_dir, split, num_images, seed, **kwargs):
  """Writes `<output_dir>/<split>/*.jpg` and `<output_dir>/<split>.json`.

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
    Image.fromarray(image).save(os.path.join(image_dir, file_name),
                                format='JPEG', quality=92)
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
  data = {'info': {'description': 'mnc_tf synthetic shapes, split %s, seed %d'
                                  % (split, seed)},
          'images': images, 'annotations': annotations,
          'categories': [dict(c) for c in CATEGORIES]}
  json_path = os.path.join(output_dir, split + '.json')
  with open(json_path, 'w') as f:
    json.dump(data, f)
  return json_path


def generate(output_dir, num_train=300, num_val=50, seed=0, **kwargs):
  """Writes both splits; returns {'train': json path, 'val': json path}."""
  paths = {}
  for split, count in (('train', num_train), ('val', num_val)):
    if count > 0:
      paths[split] = generate_split(output_dir, split, count, seed, **kwargs)
  return paths


def main(argv=None):
  parser = argparse.ArgumentParser(
      prog='python -m mnc_tf.data.synthetic_shapes',
      description='Writes the synthetic shapes data set (images + COCO JSON).')
  parser.add_argument('--output_dir', required=True)
  parser.add_argument('--num_train', type=int, default=300)
  parser.add_argument('--num_val', type=int, default=50)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--min_side', type=int, default=128)
  parser.add_argument('--max_side', type=int, default=256)
  parser.add_argument('--max_instances', type=int, default=5)
  args = parser.parse_args(sys.argv[1:] if argv is None else argv)
  start = time.time()
  paths = generate(args.output_dir, args.num_train, args.num_val, args.seed,
                   min_side=args.min_side, max_side=args.max_side,
                   max_instances=args.max_instances)
  for split, path in paths.items():
    print('synthetic_shapes: %s: %s and %s/' % (
        split, path, os.path.join(args.output_dir, split)))
  print('synthetic_shapes: done in %.1f s' % (time.time() - start))
  return 0


if __name__ == '__main__':
  sys.exit(main())
