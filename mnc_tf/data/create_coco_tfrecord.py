# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""COCO-format annotations -> sharded TFRecords (our tf.Example format).

    python -m mnc_tf.data.create_coco_tfrecord --image_dir=IMAGES \
        --annotations_file=instances.json --output_prefix=OUT/train \
        --num_shards=8 [--num_workers=2] [--skip_invalid] [--overwrite]

Writes `OUT/train-SSSSS-of-00008.tfrecord`, `OUT/train.label_map.json`
({"id": "name"}) and `OUT/train.summary.json`, all renamed into place only
when the whole run succeeds. Shards of `OUT/train` with another
`--num_shards` are refused unless `--overwrite` (which deletes them);
temporaries of a killed run (`*.tmp-PID`) are removed.

Accepted: every segmentation form of the COCO format (polygons, uncompressed
and compressed RLE) on crowd and non-crowd annotations; the data set's own
category ids (gaps kept); images with no annotation (written with zero
instances); grayscale, CMYK, RGBA, palette and 16-bit images (converted to
RGB; see `image_io`).  Boxes may stick out of the image by up to 1 pixel
(rounding in real exports); they are clipped.

Invalid records, each reported with the image id, its file and the
annotation id: missing or corrupt image file, image size differing from the
JSON, box outside the image, malformed box (not 4 finite numbers, or a
negative width / height), zero-area box or segmentation, malformed
segmentation, unknown category id, annotation of an unknown image, an image
id (or file name) listed twice in `images` (`duplicate_image`: the first
entry is converted, the repeat is not).
Without `--skip_invalid` the first one stops the run (exit status 1, no
output files left); with it, the record is skipped (the whole image for an
image-level problem, else that annotation) and counted by reason.
"""

import collections
import functools
import json
import math
import numbers
import os
import sys

from absl import app
from absl import flags

from mnc_tf.data import coco_segmentation
from mnc_tf.data import conversion
from mnc_tf.data import errors
from mnc_tf.data import image_io
from mnc_tf.data import tf_example

_NAME = 'create_coco_tfrecord'
# How far (pixels) a box may stick out of the image before it is invalid.
BOX_TOLERANCE = 1.0


def _describe_image(image):
  return '%s (%s)' % (image.get('id'), image.get('file_name'))


def _convert_box(bbox, height, width):
  """COCO [x, y, w, h] -> clipped [ymin, xmin, ymax, xmax] pixels."""
  if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
      or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                 and math.isfinite(v) for v in bbox)):
    raise errors.InvalidRecordError(
        errors.MALFORMED_BOX, 'bbox %r is not [x, y, width, height]' % (bbox,))
  x, y, w, h = [float(v) for v in bbox]
  if w < 0 or h < 0:
    raise errors.InvalidRecordError(
        errors.MALFORMED_BOX, 'bbox %s has a negative width or height (COCO '
        'boxes are [x, y, width, height])' % list(bbox))
  if w == 0 or h == 0:
    raise errors.InvalidRecordError(errors.ZERO_AREA,
                                    'bbox %s has zero area' % list(bbox))
  if (x < -BOX_TOLERANCE or y < -BOX_TOLERANCE
      or x + w > width + BOX_TOLERANCE or y + h > height + BOX_TOLERANCE):
    raise errors.InvalidRecordError(
        errors.BOX_OUTSIDE_IMAGE,
        'bbox %s lies outside the %dx%d (w x h) image'
        % (list(bbox), width, height))
  ymin, xmin = max(y, 0.0), max(x, 0.0)
  ymax, xmax = min(y + h, float(height)), min(x + w, float(width))
  if ymax <= ymin or xmax <= xmin:
    raise errors.InvalidRecordError(errors.ZERO_AREA,
                                    'bbox %s has zero area inside the image'
                                    % list(bbox))
  return [ymin, xmin, ymax, xmax]


def convert_annotation(annotation, height, width, id_to_name):
  """One COCO annotation -> an instance dict for `tf_example.build_example`.

  Raises:
    errors.InvalidRecordError: for any invalid field.
  """
  category_id = annotation.get('category_id')
  if (isinstance(category_id, bool) or not isinstance(category_id, int)
      or category_id not in id_to_name):
    raise errors.InvalidRecordError(
        errors.UNKNOWN_CATEGORY,
        'category id %r is not in the categories list' % (category_id,))
  if 'bbox' in annotation:
    box = _convert_box(annotation['bbox'], height, width)
  else:
    box = None
  if 'segmentation' not in annotation:
    raise errors.InvalidRecordError(errors.MALFORMED_SEGMENTATION,
                                    'the annotation has no segmentation')
  mask = coco_segmentation.to_mask(annotation['segmentation'], height, width)
  if box is None:
    box = tf_example.mask_to_box(mask)
  area = annotation.get('area')
  if (not isinstance(area, numbers.Real) or isinstance(area, bool)
      or not math.isfinite(area) or area <= 0):
    area = float(mask.sum())
  return {
      'box': box,
      'class_id': category_id,
      'class_name': id_to_name[category_id],
      'is_crowd': 1 if annotation.get('iscrowd', 0) else 0,
      'area': float(area),
      'mask': mask,
  }


def convert_image(task, image_dir, id_to_name):
  """Converts one image and its annotations; never raises InvalidRecordError.

  Args:
    task: (image dict from the JSON, list of its annotation dicts).
    image_dir: directory holding the image files.
    id_to_name: {category id: name}.

  Returns:
    conversion.ImageResult.
  """
  image, annotations = task
  described = _describe_image(image)
  try:
    file_name = image.get('file_name')
    if not isinstance(file_name, str) or not file_name:
      raise errors.InvalidRecordError(errors.MISSING_IMAGE,
                                      'the image entry has no file_name')
    encoded, image_format, height, width = image_io.load_image(
        os.path.join(image_dir, file_name))
    json_size = (image.get('height'), image.get('width'))
    if json_size != (None, None) and json_size != (height, width):
      raise errors.InvalidRecordError(
          errors.IMAGE_SIZE_MISMATCH,
          'the JSON says %sx%s (h x w), the file is %dx%d'
          % (json_size[0], json_size[1], height, width))
  except errors.InvalidRecordError as e:
    return conversion.ImageResult(None, 0, [e.with_context(image=described)])

  instances = []
  problems = []
  for annotation in annotations:
    try:
      instances.append(
          convert_annotation(annotation, height, width, id_to_name))
    except errors.InvalidRecordError as e:
      problems.append(e.with_context(image=described,
                                     annotation_id=annotation.get('id')))
  example = tf_example.build_example(
      encoded, image_format, height, width, source_id=image['id'],
      filename=file_name, instances=instances)
  return conversion.ImageResult(example.SerializeToString(), len(instances),
                                problems)


def _read_json(path):
  """The parsed JSON object of `path`; InputError naming the file if not."""
  if not os.path.isfile(path):
    raise conversion.InputError(
        '--annotations_file=%s does not exist or is not a file; pass the '
        'path of a COCO instances JSON' % path)
  with open(path, 'rb') as f:
    raw = f.read()
  try:
    data = json.loads(raw)
  except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
    raise conversion.InputError(
        '--annotations_file=%s is not JSON (%s); pass a COCO instances JSON'
        % (path, e)) from None
  if not isinstance(data, dict):
    raise conversion.InputError(
        '--annotations_file=%s holds a JSON %s, not a COCO object with '
        '"images", "annotations" and "categories"'
        % (path, type(data).__name__))
  for key in ('images', 'annotations', 'categories'):
    if not isinstance(data.get(key, []), list):
      raise conversion.InputError(
          '--annotations_file=%s: "%s" is a %s, not a list'
          % (path, key, type(data[key]).__name__))
  return data


def _categories(path, data):
  """{category id: name}; InputError for a category without an integer id."""
  id_to_name = {}
  for category in data.get('categories', []):
    try:
      category_id = int(category['id'])
    except (TypeError, KeyError, ValueError):
      raise conversion.InputError(
          '--annotations_file=%s: category %r has no integer "id"'
          % (path, category)) from None
    id_to_name[category_id] = str(category.get('name', category_id))
  return id_to_name


def _unique_images(data):
  """(images listed once, duplicate_image problems for the repeats)."""
  images, problems = [], []
  seen_ids, seen_files = {}, {}
  for image in data.get('images', []):
    if not isinstance(image, dict):
      problems.append(errors.InvalidRecordError(
          errors.MISSING_IMAGE, 'the images entry %r is not an object'
          % (image,)))
      continue
    image_id, file_name = image.get('id'), image.get('file_name')
    if image_id in seen_ids:
      problems.append(errors.InvalidRecordError(
          errors.DUPLICATE_IMAGE, 'image id %r is listed again in images '
          '(first as %s); the repeat is not written'
          % (image_id, seen_ids[image_id]), image=_describe_image(image)))
      continue
    if isinstance(file_name, str) and file_name in seen_files:
      problems.append(errors.InvalidRecordError(
          errors.DUPLICATE_IMAGE, 'file %s is listed again in images (first '
          'as image id %r); the repeat is not written'
          % (file_name, seen_files[file_name]), image=_describe_image(image)))
      continue
    seen_ids[image_id] = file_name
    if isinstance(file_name, str):
      seen_files[file_name] = image_id
    images.append(image)
  return images, problems


def load_coco_json(path):
  """Reads a COCO JSON.

  Returns:
    (images, annotations by image id, {category id: name}, problems) where
    problems lists annotations that name an image id not in `images` and the
    repeats of an image id or file name in `images` (`duplicate_image`).

  Raises:
    OSError: the file cannot be read.
    conversion.InputError: the file is not a COCO JSON object.
  """
  data = _read_json(path)
  id_to_name = _categories(path, data)
  images, problems = _unique_images(data)
  image_ids = {image.get('id') for image in images}
  by_image = collections.defaultdict(list)
  for annotation in data.get('annotations', []):
    if not isinstance(annotation, dict):
      problems.append(errors.InvalidRecordError(
          errors.MALFORMED_SEGMENTATION,
          'the annotations entry %r is not an object' % (annotation,)))
      continue
    image_id = annotation.get('image_id')
    if image_id not in image_ids:
      problems.append(errors.InvalidRecordError(
          errors.UNKNOWN_IMAGE_ID,
          'the annotation names image id %r, which is not in images'
          % (image_id,), annotation_id=annotation.get('id')))
      continue
    by_image[image_id].append(annotation)
  return images, by_image, id_to_name, problems


def convert(image_dir, annotations_file, output_prefix, num_shards=1,
            num_workers=0, skip_invalid=False, log_every=100,
            overwrite=False):
  """Runs the conversion (the CLI without argument parsing).

  Returns:
    conversion.Summary.

  Raises:
    conversion.ConversionFailed: see `conversion.run_conversion`.
  """
  images, by_image, id_to_name, problems = load_coco_json(annotations_file)
  tasks = [(image, by_image.get(image.get('id'), [])) for image in images]
  convert_fn = functools.partial(convert_image, image_dir=image_dir,
                                 id_to_name=id_to_name)
  return conversion.run_conversion(
      tasks, convert_fn, output_prefix, num_shards, id_to_name, _NAME,
      skip_invalid=skip_invalid, num_workers=num_workers,
      log_every=log_every, extra_problems=problems, overwrite=overwrite)


def define_flags(flag_values=flags.FLAGS):
  """Defines the CLI's flags on `flag_values` (the CLI: absl's FLAGS)."""
  flags.DEFINE_string('image_dir', None, 'Directory of the image files.',
                      flag_values=flag_values)
  flags.DEFINE_string('annotations_file', None,
                      'COCO instances JSON (images, annotations, '
                      'categories).', flag_values=flag_values)
  conversion.define_common_flags(flag_values)


def main(argv, flag_values=flags.FLAGS):
  """Converts as the parsed `flag_values` say; returns the exit status."""
  return conversion.run_main(
      _NAME, argv, flag_values,
      ('image_dir', 'annotations_file', 'output_prefix'),
      lambda: convert(flag_values.image_dir, flag_values.annotations_file,
                      flag_values.output_prefix,
                      **conversion.common_options(flag_values)),
      input_errors=(OSError, ValueError, KeyError, TypeError))


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(main(argv)))
