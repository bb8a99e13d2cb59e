# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""A feature-pyramid MNC exports and serves an image like the model in process.

The tiny pyramid model (ResNet-18 + a 32-channel FPN, levels 2-5) in the
demo experiment at 96 x 96, untrained, exported from a checkpoint; one image
through `serving_default` (uint8 tensor) against the model in this process,
with `test_export.py`'s tolerances.
"""
import os

import pytest
import tensorflow as tf
import tf_keras

from mnc_tf.configs import mnc_experiments
from mnc_tf.configs import model as model_cfg
from mnc_tf.modeling import factory
from mnc_tf.serving import export_lib
from official.core import exp_factory
from tests.serving import conftest
from tests.serving import test_export

PARSER = {'scale': 64, 'max_size': 96, 'padded_size': [96, 96],
          'size_divisor': 32}


@pytest.mark.slow
def test_pyramid_model_serves_an_image_as_in_process(tmp_path):
  params = exp_factory.get_exp_config('mnc_shapes_demo')
  params.override({'task': {
      'model': model_cfg.tiny_pyramid_model_config(
          class_ids=mnc_experiments.SHAPES_CLASS_IDS).as_dict(),
      'train_data': {'parser': PARSER},
      'validation_data': {'parser': PARSER}}}, is_strict=True)
  params.validate()
  params.lock()
  tf_keras.utils.set_random_seed(7)
  model = factory.build_mnc_model(params.task.model)
  checkpoint = tf.train.Checkpoint(model=model).write(
      os.path.join(tmp_path, 'ckpt', 'ckpt-1'))
  export_dir = export_lib.export_saved_model(
      params, os.path.join(tmp_path, 'saved_model'),
      checkpoint_path=checkpoint)
  serve = tf.saved_model.load(export_dir).signatures['serving_default']
  image = conftest.test_image(seed=5)
  got = {k: v.numpy() for k, v in serve(tf.constant(image[None])).items()}
  want = test_export.in_process_detections(
      model, image, params.task.validation_data.parser)
  assert int(got['num_detections'][0]) > 0
  assert got['detection_masks'].shape[2:] == image.shape[:2]
  test_export.assert_same_detections(got, want)
