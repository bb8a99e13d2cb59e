# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""`cascade.test_extra_scales`: a resized pass's candidates join before voting.

The reference builds the half-size input with NumPy (a bilinear resize by
0.5 with half-pixel centres samples halfway between pixels 2i and 2i+1: the
mean of each 2 x 2 block), pads it to 64 x 64, runs the same weights without
extra scales on it and on its mirror, doubles their boxes back into the
full-size input, and feeds the pooled candidates of all four passes (own,
mirror, half-size own, half-size mirror) to the detection generator.
"""
import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.configs import model as model_cfg
from mnc_tf.modeling import factory
from mnc_tf.modeling import test_time_augmentation
from tests.modeling.synthetic_example import CLASS_IDS
from tests.modeling.test_test_horizontal_flip import assert_same_detections
from tests.modeling.test_test_horizontal_flip import candidates
from tests.modeling.test_test_horizontal_flip import CONTENT_WIDTH
from tests.modeling.test_test_horizontal_flip import generator_detections
from tests.modeling.test_test_horizontal_flip import mirror_content
from tests.modeling.test_test_horizontal_flip import mirrored
from tests.modeling.test_test_horizontal_flip import numpy_outputs
from tests.modeling.test_test_horizontal_flip import padded_example


def build(**cascade):
  tf.random.set_seed(0)
  return factory.build_mnc_model(model_cfg.tiny_model_config(
      class_ids=CLASS_IDS, cascade=cascade))


def half_size(images):
  """NumPy: `[B, 96, 96, 3]` -> 2 x 2 block means, zero-padded to 64 x 64."""
  b, h, w, c = images.shape
  half = images.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))
  out = np.zeros([b, 64, 64, c], np.float32)
  out[:, :h // 2, :w // 2] = half
  return out


def test_half_scale_and_flip_passes_vote_together():
  model = build(test_horizontal_flip=True, test_extra_scales=[0.5])
  assert model.test_time_augmentation.get_config()['extra_scales'] == [0.5]
  example = padded_example()
  images, info = example['images'], example['image_info']
  half_images = half_size(images)
  half_info = info.copy()
  # The content size and the image scale (the proposals' minimum size is in
  # original pixels) halve.
  half_info[:, 1:3] *= 0.5
  half_width = CONTENT_WIDTH // 2

  got = numpy_outputs(model, images, info)

  plain = build()
  model_weights = model.get_weights()
  plain(tf.constant(images), tf.constant(info), training=False)
  plain.set_weights(model_weights)
  pool = []
  for imgs, inf, width, box_scale in ((images, info, CONTENT_WIDTH, 1.0),
                                      (half_images, half_info, half_width,
                                       2.0)):
    boxes, masks, scores = candidates(numpy_outputs(plain, imgs, inf))
    pool.append((boxes * box_scale, masks, scores))
    boxes, masks, scores = candidates(
        numpy_outputs(plain, mirror_content(imgs, width), inf))
    boxes, masks = mirrored(boxes, masks, width)
    pool.append((boxes * box_scale, masks, scores))
  pool = [np.concatenate(parts, axis=1) for parts in zip(*pool)]
  want = generator_detections(model, pool)
  num = assert_same_detections(got, want, atol=1e-4)
  # The half-size passes change the result (the test can fail).
  flip_only = build(test_horizontal_flip=True)
  flip_only(tf.constant(images), tf.constant(info), training=False)
  flip_only.set_weights(model_weights)
  alone = numpy_outputs(flip_only, images, info)
  assert not np.allclose(alone['detection_masks'][0, :num],
                         want['detection_masks'][0, :num], atol=1e-3)


def test_rescaled_input_is_padded_to_the_multiple():
  example = padded_example()
  canvas = example['images'][:, :, :88]   # 96 x 88: y and x factors differ
  images, info, box_factors = test_time_augmentation.rescaled_inputs(
      tf.constant(canvas), tf.constant(example['image_info']), 1.3)
  # 96 x 88 -> 125 x 114 (rounded), padded to 128 x 128.
  assert images.shape[1:3] == (128, 128)
  assert 128 % test_time_augmentation.SCALED_INPUT_MULTIPLE == 0
  factor_y, factor_x = 125 / 96, 114 / 88
  np.testing.assert_allclose(box_factors.numpy(),
                             [factor_y, factor_x, factor_y, factor_x],
                             rtol=1e-6)
  np.testing.assert_allclose(info.numpy()[0, 1],
                             [96 * factor_y, CONTENT_WIDTH * factor_x],
                             rtol=1e-6)
  np.testing.assert_allclose(info.numpy()[0, 0], example['image_info'][0, 0])
  np.testing.assert_array_equal(images.numpy()[0, 125:], 0.0)
  np.testing.assert_array_equal(images.numpy()[0, :, 114:], 0.0)


@pytest.mark.parametrize('factor', [0.0, -1.0])
def test_non_positive_factor_is_refused(factor):
  with pytest.raises(ValueError, match='test_extra_scales'):
    build(test_extra_scales=[factor])


def test_one_scale_by_default():
  assert not model_cfg.Mnc().cascade.test_extra_scales
