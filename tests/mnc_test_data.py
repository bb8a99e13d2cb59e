# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""A tiny synthetic-shapes data set in TFRecords for the integration tests."""
import os

from mnc_tf.data import create_coco_tfrecord
from mnc_tf.data import synthetic_shapes

# Tiny images so that a training step costs little on a CPU.
IMAGE_SIDE = 64
# train.py overrides making `mnc_shapes_demo` tiny and fast.
TINY_OVERRIDES = (
    'task.train_data.parser.scale=64,task.train_data.parser.max_size=64,'
    'task.train_data.parser.padded_size=[64,64],'
    'task.validation_data.parser.scale=64,'
    'task.validation_data.parser.max_size=64,'
    'task.validation_data.parser.padded_size=[64,64],'
    'task.train_data.shuffle_buffer_size=8,'
    'task.model.anchors.scales=[16.0,32.0],'
    'task.num_image_summaries=2')


def make_tiny_shapes(directory, num_train=4, num_val=2, train_shards=2,
                     seed=0):
  """Writes images, COCO JSON and TFRecords under `directory`.

  Returns:
    dict: `train_pattern`, `val_pattern`, `val_json`.
  """
  shapes = os.path.join(directory, 'shapes')
  paths = synthetic_shapes.generate(
      shapes, num_train=num_train, num_val=num_val, seed=seed,
      min_side=IMAGE_SIDE, max_side=IMAGE_SIDE, max_instances=2)
  data = os.path.join(directory, 'data')
  os.makedirs(data, exist_ok=True)
  for split, shards in (('train', train_shards), ('val', 1)):
    create_coco_tfrecord.convert(os.path.join(shapes, split), paths[split],
                                 os.path.join(data, split), num_shards=shards,
                                 log_every=10 ** 9)
  return {'train_pattern': os.path.join(data, 'train-*.tfrecord'),
          'val_pattern': os.path.join(data, 'val-*.tfrecord'),
          'val_json': paths['val']}


def data_overrides(paths):
  """`--params_override` entries pointing the experiment at `paths`."""
  return (f"task.annotation_file={paths['val_json']},"
          f"task.train_data.input_path={paths['train_pattern']},"
          f"task.validation_data.input_path={paths['val_pattern']}")
