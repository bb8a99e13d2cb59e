# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Receptive field: by hand and against the gradient's footprint."""

import numpy as np
import tensorflow as tf

from mnc_tf.configs import model as model_cfg
from mnc_tf.modeling import receptive_field
from mnc_tf.modeling.backbones import tiny


def _tiny_config(stride):
  return model_cfg.Backbone(type='tiny', tiny=model_cfg.TinyBackbone(
      filters=[4, 4, 4, 4], output_stride=stride))


def test_tiny_backbone_by_hand():
  # 3x3 convs: stride-2 / stride-1 pairs in blocks 1-3 (jumps 2, 4, 8):
  # 1 + 2*(1+2) + 2*(2+4) + 2*(4+8) = 43, block 4 at stride 1 (jump 8) + 32
  # = 75, the stride-4 merge conv + 8 = 83, the RPN conv + 8 = 91.
  assert receptive_field.rpn_receptive_field(_tiny_config(4)) == 91.0
  # Stride 16: block 4 at stride 2: 43 + 16 + 32 = 91, RPN conv + 32 = 123.
  assert receptive_field.rpn_receptive_field(_tiny_config(16)) == 123.0


def test_matches_the_gradient_footprint():
  """With positive weights, d(centre output)/d(input) is non-zero exactly on
  the receptive field."""
  model = tiny.build_tiny_backbone(filters=(2, 2, 2, 2), output_stride=4)
  for layer in model.layers:
    for weight in layer.weights:
      weight.assign(tf.fill(weight.shape, 0.1))
  window, jump = receptive_field.model_receptive_field(model)
  assert jump == 4
  size = 256
  image = tf.ones([1, size, size, 1]) * tf.ones([1, 1, 1, 3])
  with tf.GradientTape() as tape:
    tape.watch(image)
    out = model(image)
    centre = out.shape[1] // 2
    value = tf.reduce_sum(out[0, centre, centre])
  grad = tape.gradient(value, image).numpy()[0].sum(axis=-1)
  rows = np.nonzero(grad.sum(axis=1))[0]
  assert rows.max() - rows.min() + 1 == window
