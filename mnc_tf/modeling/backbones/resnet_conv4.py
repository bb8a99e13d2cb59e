# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Model Garden ResNet truncated after conv4 (stride 16, 1024 channels).

The full Model Garden `ResNet` is built (so that Model Garden classification
checkpoints, whose `backbone` is that object, load as they are) and a functional
sub-model up to endpoint '4' is what runs: conv5 is never computed.
"""

import tf_keras

from official.vision.modeling.backbones import resnet


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class ResNetConv4(tf_keras.Model):
  """`[B, H, W, 3]` -> conv4 features `[B, H/16, W/16, 1024]`."""

  def __init__(self, model_id=50, freeze_batch_norm=True,
               kernel_regularizer=None, **kwargs):
    """Builds the backbone.

    Args:
      model_id: ResNet depth (18, 34, 50, 101, ...).
      freeze_batch_norm: batch norm runs with frozen moving statistics.
      kernel_regularizer: optional conv kernel regularizer.
      **kwargs: base model arguments.
    """
    super().__init__(**kwargs)
    self._config_dict = {'model_id': int(model_id),
                         'freeze_batch_norm': bool(freeze_batch_norm)}
    self.resnet = resnet.ResNet(
        model_id=model_id, bn_trainable=not freeze_batch_norm,
        kernel_regularizer=kernel_regularizer)
    self._trunk = tf_keras.Model(self.resnet.inputs, self.resnet.output['4'],
                                 name='conv4_trunk')

  def call(self, images, training=None):
    return self._trunk(images, training=training)

  def get_config(self):
    return dict(self._config_dict)
