# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""One tiny, untrained MNC exported once for all serving / predict tests."""
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from mnc_tf.configs import mnc_experiments  # pylint: disable=unused-import
from mnc_tf.modeling import factory
from mnc_tf.serving import export_lib
from official.core import exp_factory

PARSER = {'scale': 64, 'max_size': 96, 'padded_size': [96, 96],
          'size_divisor': 16}


def tiny_params():
  """`mnc_shapes_demo` shrunk to 96 x 96 network inputs."""
  params = exp_factory.get_exp_config('mnc_shapes_demo')
  params.override({'task': {'train_data': {'parser': PARSER},
                            'validation_data': {'parser': PARSER}}},
                  is_strict=True)
  params.validate()
  params.lock()
  return params


def test_image(height=72, width=110, seed=0):
  """uint8 `[H, W, 3]`: a grey canvas with a few coloured blobs."""
  rng = np.random.default_rng(seed)
  image = np.full((height, width, 3), 120, np.uint8)
  yy, xx = np.mgrid[:height, :width]
  for _ in range(3):
    cy, cx = rng.uniform(0.2, 0.8) * height, rng.uniform(0.2, 0.8) * width
    radius = rng.uniform(0.1, 0.25) * min(height, width)
    image[(yy - cy) ** 2 + (xx - cx) ** 2 < radius ** 2] = rng.integers(
        0, 255, 3)
  return image


@pytest.fixture(scope='session')
def exported(tmp_path_factory):
  """dict: `params`, `model` (in-process, default RoI warp), `checkpoint`,
  `export_dir` (SavedModel restored from `checkpoint`)."""
  tf_keras.utils.set_random_seed(7)
  root = tmp_path_factory.mktemp('export')
  params = tiny_params()
  model = factory.build_mnc_model(params.task.model)
  checkpoint = tf.train.Checkpoint(model=model).write(
      os.path.join(root, 'ckpt', 'ckpt-1'))
  export_dir = export_lib.export_saved_model(
      params, os.path.join(root, 'saved_model'), checkpoint_path=checkpoint)
  return {'params': params, 'model': model, 'checkpoint': checkpoint,
          'export_dir': export_dir, 'root': str(root)}


@pytest.fixture(scope='session')
def loaded(exported):
  return tf.saved_model.load(exported['export_dir'])
