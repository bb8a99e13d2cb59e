# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Loading local ImageNet weights into the backbones (no downloads here).

* VGG-16: a Keras `.h5` (e.g. `vgg16_weights_tf_dim_ordering_tf_kernels.h5`
  from `tf_keras.applications`), read by layer name; `fc1` / `fc2` (present in
  the with-top file) also initialize both pathways' fc6 / fc7 of stage 3, as in
  the paper (§6: "the shared convolutional layers and the corresponding 4096-d
  fc layers").
* ResNet: a Model Garden checkpoint whose `backbone` item is a Model Garden
  `ResNet` (what the image-classification task writes).
"""

import h5py
import numpy as np
import tensorflow as tf

from mnc_tf.utils import checkpoints

VGG16_CONV_LAYERS = tuple(
    f'block{b}_conv{c}' for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
    for c in range(1, n + 1))


def read_keras_h5(path):
  """Weights of a Keras `.h5` weights (or whole-model) file by layer name.

  Args:
    path: local file path.

  Returns:
    dict: layer name -> list of numpy arrays in the layer's weight order.
  """
  weights = {}
  with h5py.File(path, 'r') as f:
    group = f['model_weights'] if 'model_weights' in f else f
    if 'layer_names' not in group.attrs:
      raise ValueError(f'{path} is not a Keras .h5 weights file (no '
                       '"layer_names" attribute).')
    for name in group.attrs['layer_names']:
      name = name.decode() if isinstance(name, bytes) else str(name)
      layer = group[name]
      names = [n.decode() if isinstance(n, bytes) else str(n)
               for n in layer.attrs.get('weight_names', [])]
      if names:
        weights[name] = [np.asarray(layer[n]) for n in names]
  return weights


def _assign(layer, arrays, source):
  expected = [tuple(w.shape) for w in layer.weights]
  got = [tuple(a.shape) for a in arrays]
  if expected != got:
    raise ValueError(f'{source}: shapes {got} do not fit layer {layer.name} '
                     f'{expected}.')
  layer.set_weights(arrays)


def load_vgg16_h5(path, backbone, classifier_head=None):
  """Loads Keras VGG-16 ImageNet weights.

  Args:
    path: the `.h5` file.
    backbone: the model of `vgg16.build_vgg16` (built).
    classifier_head: optional built `MaskedClassifierHead`; its fc6/fc7 of both
      pathways get `fc1` / `fc2` when the file has them.

  Returns:
    List of the layer names loaded.

  Raises:
    ValueError: the file lacks a conv layer or a shape does not fit.
  """
  weights = read_keras_h5(path)
  missing = [n for n in VGG16_CONV_LAYERS if n not in weights]
  if missing:
    raise ValueError(f'{path} lacks VGG-16 layers {missing}.')
  for name in VGG16_CONV_LAYERS:
    _assign(backbone.get_layer(name), weights[name], f'{path}:{name}')
  loaded = list(VGG16_CONV_LAYERS)
  if classifier_head is not None:
    for source, targets in (('fc1', ('fc6_mask', 'fc6_box')),
                            ('fc2', ('fc7_mask', 'fc7_box'))):
      if source in weights:
        for target in targets:
          try:
            _assign(getattr(classifier_head, target), weights[source],
                    f'{path}:{source}')
          except ValueError as error:
            raise ValueError(
                f'{error} VGG-16 fc6/fc7 fit only the paper head '
                '(roi_feature_channels: 0, classifier_head.fc_dims: 4096, '
                'pooled_size: 7); with another head use the no-top file '
                '(..._notop.h5).') from error
        loaded.append(source)
  return loaded


def load_resnet_checkpoint(path, backbone):
  """Loads a Model Garden ResNet checkpoint (`backbone` item) into a backbone.

  Args:
    path: checkpoint prefix or directory.
    backbone: a built `ResNetConv4` or `ResNetPyramid` (its `resnet`).

  Raises:
    AssertionError / ValueError: the checkpoint does not match the ResNet.
    checkpoints.CheckpointNotFoundError: no checkpoint at `path`.
  """
  path = checkpoints.resolve_checkpoint(path)
  status = tf.train.Checkpoint(backbone=backbone.resnet).read(path)
  status.expect_partial().assert_existing_objects_matched()
