# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Splits a COCO training file into a fit part and a held-back part.

    python -m mnc_tf.data.holdout_split --annotations_file=my/train.json \
        --output_dir=my/split [--holdout_fraction=0.15] [--seed=0]
    -> my/split/fit.json, my/split/holdout.json

Settings chosen by score (the test scale, test-time passes) are chosen on
`holdout.json` (`python -m tools.select_on_holdout`), never on the
evaluation set, which is scored once at the end.  Whole images go to one
side; the held-back images are a seeded random choice (at least one, and at
least one image stays to fit).  Both files keep the categories and every
other top-level entry of the input; they are written atomically.
"""

import json
import os
import sys

from absl import app
from absl import flags
import numpy as np

from mnc_tf.utils import atomic_io
from mnc_tf.utils import cli

DEFAULT_FRACTION = 0.15


class SplitError(ValueError):
  """Unusable input; the message names the culprit."""


def split(data, fraction=DEFAULT_FRACTION, seed=0):
  """(fit, holdout) COCO dicts of `data`, split by image.

  Args:
    data: a COCO instances dict (`images`, `annotations`, ...).
    fraction: share of the images held back, in (0, 1).
    seed: the choice is a function of the seed and the image ids.

  Returns:
    (fit dict, holdout dict).

  Raises:
    SplitError: fewer than 2 images, or `fraction` outside (0, 1).
  """
  if not 0.0 < fraction < 1.0:
    raise SplitError('--holdout_fraction=%g must be in (0, 1)' % fraction)
  images = sorted(data.get('images', []), key=lambda image: image['id'])
  if len(images) < 2:
    raise SplitError('%d image(s): a split needs at least 2' % len(images))
  count = min(max(1, int(round(fraction * len(images)))), len(images) - 1)
  order = np.random.default_rng(seed).permutation(len(images))
  held = set(images[i]['id'] for i in order[:count])
  parts = []
  for keep in (lambda i: i not in held, lambda i: i in held):
    part = {k: v for k, v in data.items()
            if k not in ('images', 'annotations')}
    part['images'] = [im for im in images if keep(im['id'])]
    part['annotations'] = [a for a in data.get('annotations', [])
                           if keep(a['image_id'])]
    parts.append(part)
  return parts[0], parts[1]


def define_flags(flag_values=flags.FLAGS):
  flags.DEFINE_string('annotations_file', None, 'COCO JSON of the training '
                      'set.', flag_values=flag_values)
  flags.DEFINE_string('output_dir', None, 'Where fit.json and holdout.json '
                      'go.', flag_values=flag_values)
  flags.DEFINE_float('holdout_fraction', DEFAULT_FRACTION, 'Share of the '
                     'training images held back.', flag_values=flag_values)
  flags.DEFINE_integer('seed', 0, 'Seed of the choice.',
                       flag_values=flag_values)


def run(flag_values):
  """Writes the two files; returns 0 or 1."""
  if not flag_values.annotations_file or not flag_values.output_dir:
    print('holdout_split: error: --annotations_file and --output_dir are '
          'required', file=sys.stderr)
    return 1
  try:
    with open(flag_values.annotations_file) as f:
      data = json.load(f)
    fit, holdout = split(data, flag_values.holdout_fraction, flag_values.seed)
  except (OSError, ValueError) as e:
    print('holdout_split: error: %s: %s' % (flag_values.annotations_file, e),
          file=sys.stderr)
    return 1
  os.makedirs(flag_values.output_dir, exist_ok=True)
  for name, part in (('fit', fit), ('holdout', holdout)):
    path = os.path.join(flag_values.output_dir, name + '.json')
    atomic_io.write_json(path, part)
    print('holdout_split: %s: %d images, %d instances' % (
        path, len(part['images']), len(part['annotations'])))
  return 0


def main(argv):
  return cli.main_on_fresh_flags('holdout_split', define_flags, run, argv)


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(run(flags.FLAGS)))
