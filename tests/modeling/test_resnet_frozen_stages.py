# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""ResNetConv4(frozen_stages=k): same outputs, same gradients for the layers
still trained, none for the frozen stages."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from mnc_tf.configs import model as model_config
from mnc_tf.modeling import factory
from mnc_tf.modeling.backbones import resnet_conv4


def _built(frozen_stages, images):
  tf_keras.utils.set_random_seed(3)   # The same initial weights each time.
  backbone = resnet_conv4.ResNetConv4(model_id=18,
                                      frozen_stages=frozen_stages)
  backbone(images)
  return backbone


def _loss_and_grads(backbone, images):
  """Loss and {key: gradient}; a variable's key is its initial values'
  fingerprint (layer names differ between two models)."""
  variables = backbone.trainable_variables
  keys = [(tuple(v.shape), round(float(tf.reduce_sum(v)), 4),
           round(float(tf.reduce_sum(tf.abs(v))), 4)) for v in variables]
  assert len(set(keys)) == len(keys)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(tf.square(backbone(images, training=True)))
  return loss, dict(zip(keys, tape.gradient(loss, variables)))


def test_frozen_stages_keep_the_loss_and_the_other_gradients():
  images = tf.random.stateless_normal([1, 64, 96, 3], seed=[1, 2])
  want_loss, want = _loss_and_grads(_built(0, images), images)
  for frozen_stages in (1, 2):
    got_loss, got = _loss_and_grads(_built(frozen_stages, images), images)
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-6)
    assert set(got) < set(want)
    for key, grad in got.items():
      if want[key] is None:   # conv5, built but never run.
        assert grad is None
        continue
      np.testing.assert_allclose(grad, want[key], rtol=1e-5, atol=1e-6)
    # Batch norm is frozen (no trainables): the stem is conv1's kernel;
    # ResNet-18's conv2_x adds its 64-channel kernels: 2 blocks x two 3 x 3,
    # and Model Garden's 1 x 1 projection in the first block.
    shapes = sorted(k[0] for k in set(want) - set(got))
    assert shapes == ([(7, 7, 3, 64)] if frozen_stages == 1 else
                      [(1, 1, 64, 64)] + [(3, 3, 64, 64)] * 4
                      + [(7, 7, 3, 64)])


def test_config_reaches_the_backbone_and_bad_values_are_rejected():
  config = model_config.Backbone(
      type='resnet', resnet=model_config.ResNetBackbone(model_id=18,
                                                        frozen_stages=2))
  backbone = factory.build_backbone(config)
  assert backbone.get_config()['frozen_stages'] == 2
  with pytest.raises(ValueError, match='frozen_stages'):
    resnet_conv4.ResNetConv4(model_id=18, frozen_stages=5)
