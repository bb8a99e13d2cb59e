# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""A small stride-16 (or stride-8) backbone for CPU tests and the demo."""

import tf_keras

OUTPUT_STRIDES = (8, 16)
NORMALIZATIONS = ('none', 'batch')


def build_tiny_backbone(filters=(16, 32, 64, 64), kernel_regularizer=None,
                        output_stride=16, normalization='none',
                        norm_momentum=0.9):
  """Four blocks of (3x3 conv, 3x3 conv), ReLU; each block halves the size.

  With `output_stride=8` the last block keeps its input's size (its first
  conv has stride 1), so small objects of 8-16 px still own a feature cell.

  Args:
    filters: output channels of each block.
    kernel_regularizer: optional conv kernel regularizer.
    output_stride: 16 (four stride-2 blocks) or 8 (the fourth at stride 1).
    normalization: 'none' (conv + bias + ReLU) or 'batch' (conv + batch norm
      + ReLU: trains from scratch in fewer steps; the statistics are taken
      over the batch's images and pixels, moving averages at inference).
    norm_momentum: the batch norm's moving-average momentum.

  Returns:
    A `tf_keras.Model` `[B, H, W, 3]` ->
    `[B, ceil(H / output_stride), ceil(W / output_stride), filters[-1]]`.
  """
  if len(filters) != 4:
    raise ValueError(f'the tiny backbone has 4 blocks, got filters={filters}.')
  if output_stride not in OUTPUT_STRIDES:
    raise ValueError(f'tiny backbone output_stride must be one of '
                     f'{OUTPUT_STRIDES}, got {output_stride}.')
  if normalization not in NORMALIZATIONS:
    raise ValueError(f'tiny backbone normalization must be one of '
                     f'{NORMALIZATIONS}, got {normalization!r}.')
  batch_norm = normalization == 'batch'
  inputs = tf_keras.Input(shape=(None, None, 3), name='images')
  x = inputs
  for block, width in enumerate(filters, start=1):
    first_stride = 1 if (block == 4 and output_stride == 8) else 2
    for conv, stride in ((1, first_stride), (2, 1)):
      name = f'block{block}_conv{conv}'
      x = tf_keras.layers.Conv2D(
          width, 3, strides=stride, padding='same',
          activation=None if batch_norm else 'relu', use_bias=not batch_norm,
          kernel_initializer='he_normal',
          kernel_regularizer=kernel_regularizer, name=name)(x)
      if batch_norm:
        x = tf_keras.layers.BatchNormalization(
            momentum=norm_momentum, name=f'{name}_bn')(x)
        x = tf_keras.layers.ReLU(name=f'{name}_relu')(x)
  return tf_keras.Model(inputs, x, name='tiny_backbone')
