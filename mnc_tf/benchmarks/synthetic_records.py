# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Synthetic shapes images as one TFRecord shard, for the step benchmarks."""

import contextlib
import os
import sys


def prepare_data(directory, num_images, image_size=None, max_instances=5,
                 seed=0):
  """Synthetic images -> 1 TFRecord shard under `directory`; its pattern.

  Args:
    directory: where the images, the COCO JSON and the records go.
    num_images: training images to write.
    image_size: (height, width) of every image; None draws the generator's
      default sizes.
    max_instances: most instances per image.
    seed: the generator's seed.

  Returns:
    The glob of the written shard.
  """
  from mnc_tf.data import create_coco_tfrecord  # pylint: disable=g-import-not-at-top
  from mnc_tf.data import synthetic_shapes  # pylint: disable=g-import-not-at-top
  paths = synthetic_shapes.generate(directory, num_train=num_images,
                                    num_val=0, seed=seed,
                                    image_size=image_size,
                                    max_instances=max_instances)
  prefix = os.path.join(directory, 'rec', 'train')
  # The converter's summary goes to stderr: stdout may carry the JSON.
  with contextlib.redirect_stdout(sys.stderr):
    create_coco_tfrecord.convert(os.path.join(directory, 'train'),
                                 paths['train'], prefix, num_shards=1,
                                 log_every=0)
  return prefix + '-*.tfrecord'
