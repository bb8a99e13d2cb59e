# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Stage 1: the RPN head of the paper (§3.1): 3x3 conv + ReLU, sibling 1x1s.

Model Garden's `RPNHead` always puts batch normalization after its 3x3 conv;
the paper's (Faster R-CNN's) head has none, and with one image per replica
batch statistics are a liability, so this is the plain head.  Objectness is
one sigmoid logit per anchor (as Model Garden), equivalent to the two-way
softmax of the original.
"""

import tf_keras


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class RpnHead(tf_keras.layers.Layer):
  """`[B, h, w, C]` -> objectness `[B, h, w, A]`, deltas `[B, h, w, 4A]`."""

  def __init__(self, num_anchors_per_location, num_filters=512,
               kernel_regularizer=None, **kwargs):
    """Initializes the head.

    Args:
      num_anchors_per_location: A (9 for 3 scales x 3 ratios).
      num_filters: channels of the 3x3 conv (512 for VGG-16).
      kernel_regularizer: optional kernel regularizer.
      **kwargs: base layer arguments.
    """
    super().__init__(**kwargs)
    reg = tf_keras.regularizers.get(kernel_regularizer)
    self._config_dict = {
        'num_anchors_per_location': int(num_anchors_per_location),
        'num_filters': int(num_filters),
        'kernel_regularizer': (tf_keras.regularizers.serialize(reg)
                               if reg else None),
    }
    normal = tf_keras.initializers.RandomNormal
    self._conv = tf_keras.layers.Conv2D(
        num_filters, 3, padding='same', activation='relu',
        kernel_initializer=normal(stddev=0.01), kernel_regularizer=reg,
        name='rpn_conv')
    self._scores = tf_keras.layers.Conv2D(
        num_anchors_per_location, 1, kernel_initializer=normal(stddev=0.01),
        kernel_regularizer=reg, name='rpn_scores')
    self._boxes = tf_keras.layers.Conv2D(
        4 * num_anchors_per_location, 1,
        kernel_initializer=normal(stddev=0.001), kernel_regularizer=reg,
        name='rpn_boxes')

  @property
  def box_layer(self):
    """The 1x1 conv predicting the box deltas (its kernel: the RPN
    regression weights)."""
    return self._boxes

  def call(self, features):
    """Predicts.

    Args:
      features: `[B, h, w, C]` stride-16 features.

    Returns:
      scores: `[B, h, w, A]` objectness logits.
      boxes: `[B, h, w, 4A]` (dy, dx, dh, dw) deltas per anchor.
    """
    x = self._conv(features)
    return self._scores(x), self._boxes(x)

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config
