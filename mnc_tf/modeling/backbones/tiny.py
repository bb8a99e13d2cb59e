# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""A small stride-16 backbone for CPU tests and the demo."""

import tf_keras


def build_tiny_backbone(filters=(16, 32, 64, 64), kernel_regularizer=None):
  """Four blocks of (3x3 stride-2 conv, 3x3 conv), ReLU.

  Args:
    filters: output channels of each block.
    kernel_regularizer: optional conv kernel regularizer.

  Returns:
    A `tf_keras.Model` `[B, H, W, 3]` -> `[B, H/16, W/16, filters[-1]]`.
  """
  if len(filters) != 4:
    raise ValueError(f'the tiny backbone has 4 blocks, got filters={filters}.')
  inputs = tf_keras.Input(shape=(None, None, 3), name='images')
  x = inputs
  for block, width in enumerate(filters, start=1):
    for conv, stride in ((1, 2), (2, 1)):
      x = tf_keras.layers.Conv2D(
          width, 3, strides=stride, padding='same', activation='relu',
          kernel_initializer='he_normal',
          kernel_regularizer=kernel_regularizer,
          name=f'block{block}_conv{conv}')(x)
  return tf_keras.Model(inputs, x, name='tiny_backbone')
