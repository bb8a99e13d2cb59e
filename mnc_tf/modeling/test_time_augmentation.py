# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Test-time augmentation: more passes of the cascade join before voting.

`TestTimeAugmentation` wraps one inference pass of a model (a function from
images to candidates, as detectron2's `GeneralizedRCNNWithTTA` wraps a
model's `inference`): with `horizontal_flip` the candidates of each image's
left-right mirror, mapped back, join the image's own; with `extra_scales` so
do those of the input resized by each factor (and of its mirror).  The model
then runs its NMS and mask voting once on the pooled candidates, which
merges the passes' masks.
"""

import tensorflow as tf
import tf_keras

from mnc_tf.ops import box_utils

# Each resized input is padded to a multiple of this (every backbone's
# feature stride divides it).
SCALED_INPUT_MULTIPLE = 32


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class TestTimeAugmentation(tf_keras.layers.Layer):
  """The inference passes of `cascade.test_horizontal_flip` and
  `cascade.test_extra_scales`."""

  __test__ = False  # not a pytest test class

  def __init__(self, horizontal_flip=False, extra_scales=(), **kwargs):
    """Initializes the augmentation.

    Args:
      horizontal_flip: each pass also runs on the image's left-right mirror
        (twice the inference cost).
      extra_scales: the passes also run on the input resized by each of
        these factors (> 0), their boxes mapped back to the input's pixels.
      **kwargs: base layer arguments.

    Raises:
      ValueError: a factor is not positive.
    """
    super().__init__(**kwargs)
    self._config_dict = {
        'horizontal_flip': bool(horizontal_flip),
        'extra_scales': [float(f) for f in extra_scales or ()],
    }
    for factor in self._config_dict['extra_scales']:
      if not factor > 0:
        raise ValueError('cascade.test_extra_scales must be positive factors '
                         f'of the test input size, got {list(extra_scales)}.')

  def candidates(self, candidates_fn, images, image_info):
    """Runs every pass and pools their candidates.

    Args:
      candidates_fn: one inference pass: (images `[B, H, W, 3]`, image_info
        `[B, 4, 2]`) -> (outputs dict, boxes `[B, K, 4]` (ymin, xmin, ymax,
        xmax; network-input pixels), masks `[B, K, m, m]` in-box mask
        probabilities, scores `[B, K, N]`).
      images: `[B, H, W, 3]` network input (static H, W).
      image_info: float32 `[B, 4, 2]` Model Garden image info.

    Returns:
      outputs: the unflipped, unscaled pass's outputs dict.
      boxes `[B, K', 4]`, masks `[B, K', m, m]`, scores `[B, K', N]`: the
      candidates of every pass, in the input's pixels, concatenated (the
      input's own first).
    """
    outputs, passes = self._scale_passes(candidates_fn, images, image_info)
    for factor in self._config_dict['extra_scales']:
      scaled_images, scaled_info, box_factors = rescaled_inputs(
          images, image_info, factor)
      _, scaled = self._scale_passes(candidates_fn, scaled_images,
                                     scaled_info)
      passes += [(boxes / box_factors, masks, scores)
                 for boxes, masks, scores in scaled]
    boxes, masks, scores = [tf.concat(parts, axis=1)
                            for parts in zip(*passes)]
    return outputs, boxes, masks, scores

  def _scale_passes(self, candidates_fn, images, image_info):
    """One scale's candidates: the image's own, then its mirror's.

    Returns:
      outputs of `candidates_fn`, and a list of (boxes, masks, scores)
      tuples, one per pass.
    """
    outputs, boxes, masks, scores = candidates_fn(images, image_info)
    passes = [(boxes, masks, scores)]
    if self._config_dict['horizontal_flip']:
      passes.append(flipped_candidates(candidates_fn, images, image_info))
    return outputs, passes

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config


def flipped_candidates(candidates_fn, images, image_info):
  """The candidates of each image's left-right mirror, mapped back.

  Each image's content (its first `image_info[:, 1, 1]` columns; the
  padding stays where it is) is flipped, `candidates_fn` runs on it, and its
  boxes and masks are mirrored back into the unflipped image.

  Returns:
    boxes `[B, K, 4]`, masks `[B, K, m, m]`, scores `[B, K, N]` as
    `candidates_fn`.
  """
  widths = tf.minimum(
      tf.cast(tf.round(image_info[:, 1, 1]), tf.int32), tf.shape(images)[2])
  flipped = tf.reverse_sequence(images, widths, seq_axis=2, batch_axis=0)
  _, boxes, masks, scores = candidates_fn(flipped, image_info)
  boxes = box_utils.flip_boxes_left_right(boxes, widths)
  return boxes, tf.reverse(masks, axis=[-1]), scores


def rescaled_inputs(images, image_info, factor):
  """The network input resized by `factor`, as one more test pass sees it.

  The whole padded canvas is resized (its content stays in the top-left
  corner) to `round(H * factor) x round(W * factor)` and zero-padded at the
  bottom and right to a multiple of `SCALED_INPUT_MULTIPLE`.

  Args:
    images: `[B, H, W, 3]` (static H, W).
    image_info: float32 `[B, 4, 2]`.
    factor: python float > 0.

  Returns:
    images `[B, H', W', 3]`, image_info `[B, 4, 2]` with the scaled content
    size in row 1, and `[4]` factors (y, x, y, x) that divide the pass's
    boxes back into the unscaled input's pixels.
  """
  height, width = images.shape[1], images.shape[2]
  new_height = max(1, int(round(height * factor)))
  new_width = max(1, int(round(width * factor)))
  multiple = SCALED_INPUT_MULTIPLE
  resized = tf.image.resize(images, [new_height, new_width])
  resized = tf.image.pad_to_bounding_box(
      resized, 0, 0, -(-new_height // multiple) * multiple,
      -(-new_width // multiple) * multiple)
  factors = tf.constant([new_height / height, new_width / width], tf.float32)
  image_info = tf.concat([image_info[:, :1], image_info[:, 1:3] * factors,
                          image_info[:, 3:]], axis=1)
  return (tf.cast(resized, images.dtype), image_info, tf.tile(factors, [2]))
