# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""PASCAL VOC SBD instance annotations -> sharded TFRecords.

    python -m mnc_tf.data.create_sbd_tfrecord --sbd_root=SBD/dataset \
        --split=train --output_prefix=OUT/sbd_train [--num_shards=8] \
        [--num_workers=2] [--skip_invalid] [--overwrite]

Reads SBD's layout (Hariharan et al. 2011, the data the MNC paper trained
on):
    <sbd_root>/train.txt, val.txt   image names, one per line
    <sbd_root>/img/<name>.jpg
    <sbd_root>/inst/<name>.mat      GTinst.Segmentation: H x W, 0 = background,
                                    k = instance k (255, if present, = void)
    <sbd_root>/cls/<name>.mat       GTcls.Segmentation: H x W, 0 = background,
                                    1..20 = VOC class (255 = void)
An instance's class is the class that covers most of its mask in
GTcls.Segmentation.  Boxes are the masks' tight boxes.  Category ids are
VOC's 1..20 (aeroplane .. tvmonitor).  The image id (`image/source_id`) is
the name's digits, e.g. 2008_000002 -> 2008000002.

Writes the same tf.Example format, label map and summary as
`create_coco_tfrecord`, with the same all-or-nothing rule and the same
output checks (shards of another `--num_shards`, temporaries of a killed run,
unwritable directory). A name listed twice in the split file is converted
once and reported as `duplicate_image`.
"""

import functools
import hashlib
import os
import sys

from absl import app
from absl import flags
import numpy as np
import scipy.io

from mnc_tf.data import conversion
from mnc_tf.data import errors
from mnc_tf.data import image_io
from mnc_tf.data import tf_example

_NAME = 'create_sbd_tfrecord'

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
               'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
               'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
               'tvmonitor')
VOC_ID_TO_NAME = {i + 1: name for i, name in enumerate(VOC_CLASSES)}
_VOID = 255


def name_to_source_id(name):
  """'2008_000002' -> 2008000002; names without digits get a stable hash."""
  digits = ''.join(c for c in name if c.isdigit())
  if digits and len(digits) <= 18:
    return int(digits)
  return int(hashlib.sha256(name.encode('utf8')).hexdigest(), 16) % (1 << 53)


def load_segmentation(path, struct_name):
  """Reads `<struct_name>.Segmentation` from an SBD .mat file as a 2-D array.

  Raises:
    errors.InvalidRecordError: `missing_annotation` / `corrupt_annotation`.
  """
  if not os.path.isfile(path):
    raise errors.InvalidRecordError(errors.MISSING_ANNOTATION,
                                    'no annotation file at %s' % path)
  try:
    mat = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    segmentation = np.asarray(getattr(mat[struct_name], 'Segmentation'))
  except Exception as e:  # scipy raises many types for broken files.
    raise errors.InvalidRecordError(
        errors.CORRUPT_ANNOTATION, 'cannot read %s.Segmentation from %s '
        '(%s: %s)' % (struct_name, path, type(e).__name__, e)) from None
  if segmentation.ndim != 2:
    raise errors.InvalidRecordError(
        errors.CORRUPT_ANNOTATION, '%s.Segmentation in %s has shape %s'
        % (struct_name, path, segmentation.shape))
  return segmentation


def convert_image(name, sbd_root):
  """Converts one SBD image; never raises InvalidRecordError.

  Returns:
    conversion.ImageResult.
  """
  described = name
  try:
    encoded, image_format, height, width = image_io.load_image(
        os.path.join(sbd_root, 'img', name + '.jpg'))
    inst = load_segmentation(os.path.join(sbd_root, 'inst', name + '.mat'),
                             'GTinst')
    cls = load_segmentation(os.path.join(sbd_root, 'cls', name + '.mat'),
                            'GTcls')
    for what, seg in (('inst', inst), ('cls', cls)):
      if seg.shape != (height, width):
        raise errors.InvalidRecordError(
            errors.IMAGE_SIZE_MISMATCH,
            '%s segmentation is %s, the image is %dx%d'
            % (what, seg.shape, height, width))
  except errors.InvalidRecordError as e:
    return conversion.ImageResult(None, 0, [e.with_context(image=described)])

  instances = []
  problems = []
  instance_ids = [int(i) for i in np.unique(inst) if i not in (0, _VOID)]
  for instance_id in instance_ids:
    mask = (inst == instance_id)
    labels = cls[mask].astype(np.int64)
    labels = labels[(labels > 0) & (labels != _VOID)]
    if labels.size == 0:
      problems.append(errors.InvalidRecordError(
          errors.UNKNOWN_CATEGORY, 'no class pixel under the instance mask',
          image=described, annotation_id=instance_id))
      continue
    class_id = int(np.bincount(labels).argmax())
    if class_id not in VOC_ID_TO_NAME:
      problems.append(errors.InvalidRecordError(
          errors.UNKNOWN_CATEGORY, 'class %d is not a VOC class' % class_id,
          image=described, annotation_id=instance_id))
      continue
    instances.append({
        'box': tf_example.mask_to_box(mask),
        'class_id': class_id,
        'class_name': VOC_ID_TO_NAME[class_id],
        'is_crowd': 0,
        'area': float(mask.sum()),
        'mask': mask.astype(np.uint8),
    })
  example = tf_example.build_example(
      encoded, image_format, height, width,
      source_id=name_to_source_id(name), filename=name + '.jpg',
      instances=instances)
  return conversion.ImageResult(example.SerializeToString(), len(instances),
                                problems)


def read_split(sbd_root, split):
  """(names listed once in `<sbd_root>/<split>.txt`, duplicate problems)."""
  path = os.path.join(sbd_root, split + '.txt')
  if not os.path.isfile(path):
    raise conversion.InputError(
        'no split file %s (--split=%s reads <sbd_root>/<split>.txt); check '
        '--sbd_root and --split' % (path, split))
  with open(path, 'rb') as f:
    raw = f.read()
  try:
    text = raw.decode('utf-8')
  except UnicodeDecodeError:
    raise conversion.InputError(
        '%s is not a text file of image names (one per line); check '
        '--sbd_root and --split' % path) from None
  names, problems, seen = [], [], set()
  for line in text.splitlines():
    name = line.strip()
    if not name:
      continue
    if name in seen:
      problems.append(errors.InvalidRecordError(
          errors.DUPLICATE_IMAGE, 'listed again in %s; the repeat is not '
          'written' % path, image=name))
      continue
    seen.add(name)
    names.append(name)
  return names, problems


def convert(sbd_root, split, output_prefix, num_shards=1, num_workers=0,
            skip_invalid=False, log_every=100, overwrite=False):
  """Runs the conversion (the CLI without argument parsing).

  Returns:
    conversion.Summary.

  Raises:
    conversion.ConversionFailed: see `conversion.run_conversion`.
  """
  names, problems = read_split(sbd_root, split)
  convert_fn = functools.partial(convert_image, sbd_root=sbd_root)
  return conversion.run_conversion(
      names, convert_fn, output_prefix, num_shards, VOC_ID_TO_NAME, _NAME,
      skip_invalid=skip_invalid, num_workers=num_workers, log_every=log_every,
      extra_problems=problems, overwrite=overwrite)


def define_flags(flag_values=flags.FLAGS):
  """Defines the CLI's flags on `flag_values` (the CLI: absl's FLAGS)."""
  flags.DEFINE_string('sbd_root', None,
                      'The folder holding img/, inst/, cls/, train.txt.',
                      flag_values=flag_values)
  flags.DEFINE_string('split', None,
                      'train or val (reads <sbd_root>/<split>.txt).',
                      flag_values=flag_values)
  conversion.define_common_flags(flag_values)


def main(argv, flag_values=flags.FLAGS):
  """Converts as the parsed `flag_values` say; returns the exit status."""
  return conversion.run_main(
      _NAME, argv, flag_values, ('sbd_root', 'split', 'output_prefix'),
      lambda: convert(flag_values.sbd_root, flag_values.split,
                      flag_values.output_prefix,
                      **conversion.common_options(flag_values)))


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(main(argv)))
