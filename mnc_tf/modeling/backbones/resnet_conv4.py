# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Model Garden ResNet truncated after conv4 (stride 16, 1024 channels).

The full Model Garden `ResNet` is built (so that Model Garden classification
checkpoints, whose `backbone` is that object, load as they are) and a functional
sub-model up to endpoint '4' is what runs: conv5 is never computed.

`frozen_stages` k keeps the first k stages' weights fixed (1: the stem,
conv1; 2: the stem and conv2_x, Detectron's FREEZE_AT=2 / py-faster-rcnn's
ResNet recipes); since nothing before them is trained either, the backward
pass stops at conv3_x and their activations are not kept for it.
"""

import tf_keras

from official.vision.modeling.backbones import resnet


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class ResNetConv4(tf_keras.Model):
  """`[B, H, W, 3]` -> conv4 features `[B, H/16, W/16, 1024]`."""

  def __init__(self, model_id=50, freeze_batch_norm=True,
               kernel_regularizer=None, frozen_stages=0, **kwargs):
    """Builds the backbone.

    Args:
      model_id: ResNet depth (18, 34, 50, 101, ...).
      freeze_batch_norm: batch norm runs with frozen moving statistics.
      kernel_regularizer: optional conv kernel regularizer.
      frozen_stages: 0..4, the stages (1: stem, 2: conv2_x, ...) whose
        weights are not trained.
      **kwargs: base model arguments.

    Raises:
      ValueError: frozen_stages outside 0..4.
    """
    check_frozen_stages(frozen_stages)
    super().__init__(**kwargs)
    self._config_dict = {'model_id': int(model_id),
                         'freeze_batch_norm': bool(freeze_batch_norm),
                         'frozen_stages': int(frozen_stages)}
    self.resnet = resnet.ResNet(
        model_id=model_id, bn_trainable=not freeze_batch_norm,
        kernel_regularizer=kernel_regularizer)
    self._trunk = tf_keras.Model(self.resnet.inputs, self.resnet.output['4'],
                                 name='conv4_trunk')
    freeze_first_stages(self.resnet, frozen_stages)

  def call(self, images, training=None):
    return self._trunk(images, training=training)

  def get_config(self):
    return dict(self._config_dict)


def check_frozen_stages(frozen_stages):
  """Raises ValueError unless 0 <= frozen_stages <= 4 (stem to conv4_x)."""
  if not 0 <= int(frozen_stages) <= 4:
    raise ValueError('resnet frozen_stages must be in 0..4 (the stages '
                     'up to conv4), got %r' % (frozen_stages,))


def freeze_first_stages(model, frozen_stages):
  """Makes the first `frozen_stages` stages of a Model Garden ResNet fixed."""
  for layer in first_stages(model, int(frozen_stages)):
    layer.trainable = False


def first_stages(model, num_stages):
  """The layers of a Model Garden ResNet's first `num_stages` stages.

  Stage 1 is the stem (everything before the first residual block); stage
  k >= 2 ends with the layer Model Garden names `block_group_l{k}`.
  """
  if num_stages <= 0:
    return []
  layers = []
  for layer in model.layers:
    if num_stages == 1 and 'Block' in type(layer).__name__:
      return layers
    layers.append(layer)
    if layer.name == 'block_group_l%d' % num_stages:
      return layers
  raise ValueError('no block_group_l%d layer in %s' % (num_stages, model.name))
