# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The whole Model Garden ResNet, its endpoints 2-5 for a feature pyramid.

`ResNetConv4` runs the ResNet up to conv4 (one stride-16 map); a pyramid
needs every stage, so this runs the whole net and returns Model Garden's
endpoint dict {'2': stride 4, ..., '5': stride 32}, which Model Garden's FPN
decoder (`official.vision.modeling.decoders.fpn.FPN`) takes as it is.  The
ResNet is the attribute `resnet`, as in `ResNetConv4`, so the same Model
Garden classification checkpoints load into both.
"""

import tf_keras

from mnc_tf.modeling.backbones import resnet_conv4
from official.vision.modeling.backbones import resnet


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class ResNetPyramid(tf_keras.Model):
  """`[B, H, W, 3]` -> {'2': `[B, H/4, W/4, C2]`, ..., '5': `[B, H/32, ...]`}."""

  def __init__(self, model_id=50, freeze_batch_norm=True,
               kernel_regularizer=None, frozen_stages=0, **kwargs):
    """Builds the backbone.

    Args:
      model_id: ResNet depth (18, 34, 50, 101, ...).
      freeze_batch_norm: batch norm runs with frozen moving statistics.
      kernel_regularizer: optional conv kernel regularizer.
      frozen_stages: 0..4, the stages (1: stem, 2: conv2_x, ...) whose
        weights are not trained (conv5_x always trains: the pyramid's top).
      **kwargs: base model arguments.

    Raises:
      ValueError: frozen_stages outside 0..4.
    """
    resnet_conv4.check_frozen_stages(frozen_stages)
    super().__init__(**kwargs)
    self._config_dict = {'model_id': int(model_id),
                         'freeze_batch_norm': bool(freeze_batch_norm),
                         'frozen_stages': int(frozen_stages)}
    self.resnet = resnet.ResNet(
        model_id=model_id, bn_trainable=not freeze_batch_norm,
        kernel_regularizer=kernel_regularizer)
    resnet_conv4.freeze_first_stages(self.resnet, frozen_stages)

  @property
  def output_specs(self):
    """{level: TensorShape} of the endpoints (the FPN's `input_specs`)."""
    return self.resnet.output_specs

  def call(self, images, training=None):
    return self.resnet(images, training=training)

  def get_config(self):
    return dict(self._config_dict)
