# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""VGG-16 conv1_1 ... conv5_3 on a stride-16 map (the paper's VOC backbone).

pool5 is dropped, so the output is the conv5_3 map at stride 16 with 512
channels; VGG-16's fc6 / fc7 become stage 3's 4096-d pathway layers
(`MaskedClassifierHead`).  Layer names are Keras' (`block1_conv1`, ...), so the
ImageNet weights of `tf_keras.applications.VGG16` (`.h5`) load by name.

Input: RGB normalized by Model Garden's `normalize_image` (ImageNet mean/std,
the data pipeline's contract).  Keras' VGG-16 weights were trained on Caffe's
input (BGR, 0..255, per-channel mean subtracted), so the model first converts
to that (a fixed, weight-free layer).
"""

import tensorflow as tf
import tf_keras

from official.vision.ops import preprocess_ops

# Model Garden's ImageNet constants (RGB, 0..255 scale).
MEAN_RGB = preprocess_ops.MEAN_RGB
STDDEV_RGB = preprocess_ops.STDDEV_RGB
# Caffe / Keras VGG-16 per-channel means, BGR order.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class CaffeInput(tf_keras.layers.Layer):
  """Model Garden-normalized RGB -> Caffe BGR minus the VGG mean."""

  def call(self, images):
    rgb = images * tf.constant(STDDEV_RGB, images.dtype) + tf.constant(
        MEAN_RGB, images.dtype)
    return tf.reverse(rgb, axis=[-1]) - tf.constant(CAFFE_MEAN_BGR,
                                                    images.dtype)


def build_vgg16(frozen_blocks=2, kernel_regularizer=None):
  """Builds the stride-16 VGG-16 trunk.

  Args:
    frozen_blocks: the first this many conv blocks are not trainable.
    kernel_regularizer: optional regularizer of the conv kernels.

  Returns:
    A `tf_keras.Model` mapping `[B, H, W, 3]` to `[B, H/16, W/16, 512]`.
  """
  inputs = tf_keras.Input(shape=(None, None, 3), name='images')
  x = CaffeInput(name='caffe_input')(inputs)
  for block, (filters, num_convs) in enumerate(_BLOCKS, start=1):
    for conv in range(1, num_convs + 1):
      layer = tf_keras.layers.Conv2D(
          filters, 3, padding='same', activation='relu',
          kernel_regularizer=kernel_regularizer,
          name=f'block{block}_conv{conv}')
      layer.trainable = block > frozen_blocks
      x = layer(x)
    if block < len(_BLOCKS):
      x = tf_keras.layers.MaxPooling2D(2, strides=2, name=f'block{block}_pool')(x)
  return tf_keras.Model(inputs, x, name='vgg16')
