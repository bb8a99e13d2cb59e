# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""A small stride-16, 8 or 4 backbone for CPU tests, the demo and small data."""

import functools

import tensorflow as tf
import tf_keras

OUTPUT_STRIDES = (4, 8, 16)
NORMALIZATIONS = ('none', 'batch')


class CropToMatch(tf_keras.layers.Layer):
  """Crops a map `[B, H', W', C]` to a reference map's height and width.

  The x2 upsampled stride-8 map is `2 * ceil(H / 8)` high: one row more than
  the stride-4 map's `ceil(H / 4)` when that is odd. The crop keeps the
  top-left part, i.e. the cells over the same image positions.
  """

  def call(self, inputs):
    """Args: inputs: `[x, reference]`. Returns: x cropped to reference's H, W."""
    x, reference = inputs
    shape = tf.shape(reference)
    return x[:, :shape[1], :shape[2], :]


def _conv_bn_relu(x, width, kernel, stride, name, batch_norm, momentum,
                  kernel_regularizer):
  """Conv, then batch norm (`name_bn`) and ReLU when `batch_norm`."""
  x = tf_keras.layers.Conv2D(
      width, kernel, strides=stride, padding='same',
      activation=None if batch_norm else 'relu', use_bias=not batch_norm,
      kernel_initializer='he_normal',
      kernel_regularizer=kernel_regularizer, name=name)(x)
  if batch_norm:
    x = tf_keras.layers.BatchNormalization(
        momentum=momentum, name=f'{name}_bn')(x)
    x = tf_keras.layers.ReLU(name=f'{name}_relu')(x)
  return x


def build_tiny_backbone(filters=(16, 32, 64, 64), kernel_regularizer=None,
                        output_stride=16, normalization='none',
                        norm_momentum=0.9):
  """Four blocks of (3x3 conv, 3x3 conv), ReLU; each block halves the size.

  With `output_stride=8` the last block keeps its input's size (its first
  conv has stride 1), so small objects of 8-16 px still own a feature cell.
  `output_stride=4` runs the blocks as for 8 and adds one top-down merge, as
  an FPN level does: block 4's stride-8 map, reduced to `filters[2]` channels
  by a 1x1 conv (`top_down_reduce`) and upsampled x2 (nearest), plus block 2's
  stride-4 map through a 1x1 conv (`top_down_lateral`), then a 3x3 conv
  (`top_down_merge`); each of the three convs is followed, as the blocks'
  are, by the batch norm (if any) and a ReLU. Objects of 4-8 px own a cell
  of that map, which has block 4's context and `filters[2]` channels (the
  heads' RoI features are `filters[2]` deep, not `filters[3]`).

  Args:
    filters: output channels of each block.
    kernel_regularizer: optional conv kernel regularizer.
    output_stride: 16 (four stride-2 blocks), 8 (the fourth at stride 1) or
      4 (as 8, plus the top-down merge with block 2).
    normalization: 'none' (conv + bias + ReLU) or 'batch' (conv + batch norm
      + ReLU: trains from scratch in fewer steps; the statistics are taken
      over the batch's images and pixels, moving averages at inference).
    norm_momentum: the batch norm's moving-average momentum.

  Returns:
    A `tf_keras.Model` `[B, H, W, 3]` ->
    `[B, ceil(H / output_stride), ceil(W / output_stride), C]`, C =
    `filters[-1]` (`filters[2]` at stride 4).
  """
  if len(filters) != 4:
    raise ValueError(f'the tiny backbone has 4 blocks, got filters={filters}.')
  if output_stride not in OUTPUT_STRIDES:
    raise ValueError(f'tiny backbone output_stride must be one of '
                     f'{OUTPUT_STRIDES}, got {output_stride}.')
  if normalization not in NORMALIZATIONS:
    raise ValueError(f'tiny backbone normalization must be one of '
                     f'{NORMALIZATIONS}, got {normalization!r}.')
  conv = functools.partial(
      _conv_bn_relu, batch_norm=normalization == 'batch',
      momentum=norm_momentum, kernel_regularizer=kernel_regularizer)
  inputs = tf_keras.Input(shape=(None, None, 3), name='images')
  x = inputs
  for block, width in enumerate(filters, start=1):
    first_stride = 1 if (block == 4 and output_stride < 16) else 2
    x = conv(x, width, 3, first_stride, f'block{block}_conv1')
    x = conv(x, width, 3, 1, f'block{block}_conv2')
    if block == 2:
      block2 = x  # the stride-4 map the top-down merge reads
  if output_stride == 4:
    width = filters[2]
    top = conv(x, width, 1, 1, 'top_down_reduce')
    top = tf_keras.layers.UpSampling2D(2, name='top_down_upsample')(top)
    lateral = conv(block2, width, 1, 1, 'top_down_lateral')
    top = CropToMatch(name='top_down_crop')([top, lateral])
    x = tf_keras.layers.Add(name='top_down_add')([top, lateral])
    x = conv(x, width, 3, 1, 'top_down_merge')
  return tf_keras.Model(inputs, x, name='tiny_backbone')
