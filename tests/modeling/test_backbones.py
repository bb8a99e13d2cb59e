# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Backbones: stride-16 shapes, VGG-16 input conversion, pretrained loading."""
import h5py
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from mnc_tf.configs import model as model_cfg
from mnc_tf.modeling import factory
from mnc_tf.modeling.backbones import pretrained
from mnc_tf.modeling.backbones import resnet_conv4
from mnc_tf.modeling.backbones import tiny
from mnc_tf.modeling.backbones import vgg16
from official.vision.modeling.backbones import resnet


def test_tiny_backbone_shape():
  out = tiny.build_tiny_backbone((4, 6, 8, 10))(tf.zeros([2, 96, 64, 3]))
  assert out.shape == (2, 6, 4, 10)


def test_tiny_backbone_stride_8_shape():
  out = tiny.build_tiny_backbone((4, 6, 8, 10), output_stride=8)(
      tf.zeros([1, 96, 72, 3]))
  assert out.shape == (1, 12, 9, 10)
  with pytest.raises(ValueError, match='output_stride'):
    tiny.build_tiny_backbone(output_stride=2)


def test_tiny_backbone_stride_4_merges_block_2_with_upsampled_block_4():
  # 100 x 70: block 2's map is 25 x 18, block 4's 13 x 9, upsampled 26 x 18:
  # the merge crops its last row, keeping the cells over the same pixels.
  backbone = tiny.build_tiny_backbone((4, 6, 8, 10), output_stride=4,
                                      normalization='batch')
  images = tf.random.stateless_uniform([2, 100, 70, 3], seed=(1, 2),
                                       maxval=255.0)
  out = backbone(images, training=False)
  assert out.shape == (2, 25, 18, 8)  # filters[2] channels at stride 4

  def run(x, *names):
    for name in names:
      x = backbone.get_layer(name)(x, training=False)
    return x

  def block_convs(*blocks):
    return [f'block{b}_conv{c}{s}' for b in blocks for c in (1, 2)
            for s in ('', '_bn', '_relu')]

  block2 = run(images, *block_convs(1, 2))
  block4 = run(block2, *block_convs(3, 4))
  assert block2.shape[1:3] == (25, 18) and block4.shape[1:3] == (13, 9)
  top = run(block4, 'top_down_reduce', 'top_down_reduce_bn',
            'top_down_reduce_relu').numpy()
  top = np.repeat(np.repeat(top, 2, axis=1), 2, axis=2)[:, :25, :18]
  lateral = run(block2, 'top_down_lateral', 'top_down_lateral_bn',
                'top_down_lateral_relu')
  want = run(lateral + top, 'top_down_merge', 'top_down_merge_bn',
             'top_down_merge_relu')
  np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
  # The config round-trips (the crop layer included).
  clone = tf_keras.Model.from_config(
      backbone.get_config(), custom_objects={'CropToMatch': tiny.CropToMatch})
  assert clone(images).shape == out.shape


@pytest.mark.parametrize('stride', [4, 8, 16])
def test_factory_passes_tiny_stride_to_anchors_and_warp(stride):
  config = model_cfg.tiny_model_config(
      backbone={'tiny': {'filters': [4, 4, 4, 4], 'output_stride': stride}})
  model = factory.build_mnc_model(config)
  assert factory.feature_stride(config.backbone) == stride
  assert model.get_config()['feature_stride'] == stride
  assert model.roi_warp.get_config()['spatial_scale'] == 1.0 / stride
  # A 64 x 96 image: a (64 / stride) x (96 / stride) map of 2 x 3 anchors
  # centred at ((i + 0.5) * stride, (j + 0.5) * stride).
  anchors = model._anchors(tf.zeros([1, 64, 96, 3])).numpy()  # pylint: disable=protected-access
  assert anchors.shape == (64 // stride, 96 // stride, 2 * 3 * 4)
  boxes = anchors.reshape(64 // stride, 96 // stride, 6, 4)
  centres = (boxes[..., :2] + boxes[..., 2:]) / 2
  want_y = (np.arange(64 // stride) + 0.5) * stride
  want_x = (np.arange(96 // stride) + 0.5) * stride
  np.testing.assert_allclose(centres[..., 0], np.broadcast_to(
      want_y[:, None, None], centres.shape[:3]), atol=1e-4)
  np.testing.assert_allclose(centres[..., 1], np.broadcast_to(
      want_x[None, :, None], centres.shape[:3]), atol=1e-4)
  features = model.backbone(tf.zeros([1, 64, 96, 3]))
  assert features.shape[1:3] == (64 // stride, 96 // stride)


def test_tiny_backbone_batch_norm_through_factory():
  config = model_cfg.Backbone(type='tiny')
  config.override({'tiny': {'filters': [4, 4, 4, 6],
                            'normalization': 'batch',
                            'norm_momentum': 0.5}})
  backbone = factory.build_backbone(config)
  norms = [l for l in backbone.layers
           if isinstance(l, tf_keras.layers.BatchNormalization)]
  assert len(norms) == 8 and all(n.momentum == 0.5 for n in norms)
  # In training the last conv's output is normalized over the batch's
  # images and pixels (gamma 1, beta 0 at init): per channel, the pre-ReLU
  # values have mean 0 and variance 1, so after the ReLU half are zero.
  images = tf.random.normal([2, 64, 64, 3], seed=1)
  pre_relu = tf_keras.Model(backbone.input,
                            backbone.get_layer('block4_conv2_bn').output)
  values = pre_relu(images, training=True).numpy().reshape(-1, 6)
  np.testing.assert_allclose(values.mean(0), 0.0, atol=1e-4)
  np.testing.assert_allclose(values.var(0), 1.0, atol=0.02)
  with pytest.raises(ValueError, match='normalization'):
    tiny.build_tiny_backbone(normalization='group')


def test_vgg16_shape_and_frozen_blocks():
  model = vgg16.build_vgg16(frozen_blocks=2)
  assert model(tf.zeros([1, 64, 48, 3])).shape == (1, 4, 3, 512)
  convs = [l for l in model.layers if isinstance(l, tf_keras.layers.Conv2D)]
  assert [l.name for l in convs] == list(pretrained.VGG16_CONV_LAYERS)
  assert [l.trainable for l in convs] == [False] * 4 + [True] * 9


def test_vgg16_converts_model_garden_input_to_caffe_bgr():
  # An RGB pixel (255, 128, 0) normalized with ImageNet mean / std.
  rgb = np.array([255.0, 128.0, 0.0])
  normalized = (rgb - vgg16.MEAN_RGB) / vgg16.STDDEV_RGB
  got = vgg16.CaffeInput()(tf.constant(normalized[None, None, None],
                                       tf.float32)).numpy()[0, 0, 0]
  np.testing.assert_allclose(got, [0 - 103.939, 128 - 116.779, 255 - 123.68],
                             atol=1e-3)


@pytest.mark.parametrize('model_id', [50, 101])
def test_resnet_conv4_shape_and_frozen_batch_norm(model_id):
  backbone = resnet_conv4.ResNetConv4(model_id=model_id,
                                      freeze_batch_norm=True)
  images = tf.random.normal([1, 64, 64, 3])
  train = backbone(images, training=True)
  assert train.shape == (1, 4, 4, 1024)
  np.testing.assert_allclose(train.numpy(),
                             backbone(images, training=False).numpy(),
                             rtol=1e-5, atol=1e-5)


def test_resnet_loads_model_garden_checkpoint(tmp_path):
  source = resnet.ResNet(model_id=18)
  images = tf.random.normal([1, 32, 32, 3])
  want = source(images, training=False)['4']
  path = tf.train.Checkpoint(backbone=source).write(str(tmp_path / 'ckpt'))
  backbone = resnet_conv4.ResNetConv4(model_id=18)
  before = backbone(images, training=False)
  assert not np.allclose(before.numpy(), want.numpy())
  pretrained.load_resnet_checkpoint(path, backbone)
  np.testing.assert_allclose(backbone(images, training=False).numpy(),
                             want.numpy(), rtol=1e-5, atol=1e-5)
  empty = tmp_path / 'empty'
  empty.mkdir()
  with pytest.raises(ValueError, match='no checkpoint'):
    pretrained.load_resnet_checkpoint(str(empty), backbone)


def _keras_vgg16_h5(path, fc_dims):
  """A Keras VGG-16 (32x32 input: pool5 is 1x1x512) with fc1/fc2 heads."""
  base = tf_keras.applications.VGG16(weights=None, include_top=False,
                                     input_shape=(32, 32, 3))
  x = tf_keras.layers.Flatten()(base.output)
  x = tf_keras.layers.Dense(fc_dims, name='fc1')(x)
  x = tf_keras.layers.Dense(fc_dims, name='fc2')(x)
  model = tf_keras.Model(base.input, x)
  model.save_weights(str(path))
  return model


def test_vgg16_init_checkpoint_loads_convs_and_fc6_fc7(tmp_path):
  path = tmp_path / 'vgg16.h5'
  keras_model = _keras_vgg16_h5(path, fc_dims=16)
  config = model_cfg.tiny_model_config(
      backbone={'type': 'vgg16'}, init_checkpoint=str(path),
      roi_warp={'output_size': 4, 'pooled_size': 2},
      mask_head={'mask_size': 4},
      classifier_head={'pooled_size': 1, 'fc_dims': 16})
  model = factory.build_mnc_model(config)
  for name in pretrained.VGG16_CONV_LAYERS:
    for got, want in zip(model.backbone.get_layer(name).get_weights(),
                         keras_model.get_layer(name).get_weights()):
      np.testing.assert_array_equal(got, want)
  head = model.classifier_head
  for source, targets in (('fc1', (head.fc6_mask, head.fc6_box)),
                          ('fc2', (head.fc7_mask, head.fc7_box))):
    for target in targets:
      for got, want in zip(target.get_weights(),
                           keras_model.get_layer(source).get_weights()):
        np.testing.assert_array_equal(got, want)


def test_vgg16_fc_weights_with_another_head_is_a_clear_error(tmp_path):
  path = tmp_path / 'vgg16.h5'
  _keras_vgg16_h5(path, fc_dims=16)
  config = model_cfg.tiny_model_config(
      backbone={'type': 'vgg16'}, init_checkpoint=str(path),
      roi_feature_channels=8,
      roi_warp={'output_size': 4, 'pooled_size': 2},
      mask_head={'mask_size': 4},
      classifier_head={'pooled_size': 1, 'fc_dims': 16})
  with pytest.raises(ValueError, match='no-top file'):
    factory.build_mnc_model(config)


def test_vgg16_h5_missing_layers_is_a_clear_error(tmp_path):
  path = tmp_path / 'partial.h5'
  with h5py.File(path, 'w') as f:
    f.attrs['layer_names'] = [b'block1_conv1']
    group = f.create_group('block1_conv1')
    group.attrs['weight_names'] = [b'block1_conv1/kernel:0']
    group.create_dataset('block1_conv1/kernel:0', data=np.zeros([3, 3, 3, 64]))
  with pytest.raises(ValueError, match='lacks VGG-16 layers'):
    pretrained.load_vgg16_h5(str(path), vgg16.build_vgg16())
  with pytest.raises(ValueError, match='not a Keras .h5'):
    with h5py.File(tmp_path / 'other.h5', 'w') as f:
      f.create_dataset('x', data=[1])
    pretrained.read_keras_h5(str(tmp_path / 'other.h5'))
