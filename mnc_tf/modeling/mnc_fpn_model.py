# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""MNC on a feature pyramid: the cascade reading Model Garden's FPN.

`MncFpnModel` changes only stage 1's inputs of `MncModel`: the backbone's
endpoints go through a decoder (Model Garden's FPN); the RPN head runs on
every pyramid level with the same weights over Model Garden's multilevel
anchors; the proposals take the top k of each level, then one NMS over all
levels, and stay differentiable functions of the RPN deltas.  The levels'
RPN outputs and anchors are laid side by side as one 1 x N map (level by
level, finest first, each row-major), so the targets, MIX_INDEX, losses and
the box-gradient clip of the single-map model apply unchanged.  The cascade
head's RoI warp is a `MultilevelRoiWarp`, which warps each RoI from the level
its size selects: stages 2-5, their losses and the gradient through the boxes
are the single-map model's.
"""

import tensorflow as tf
import tf_keras

from mnc_tf.modeling import mnc_model
from official.vision.ops import anchor as anchor_lib

# The deepest backbone endpoint (ResNet conv5_x, stride 32): the FPN's
# top-down path needs the image side to be a multiple of its stride.
BACKBONE_MAX_LEVEL = 5


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class MncFpnModel(mnc_model.MncModel):
  """MNC whose stage 1 and RoI warps run on a feature pyramid."""

  def __init__(self, decoder, min_level=2, max_level=6, anchor_num_scales=1,
               anchor_size=8.0, decoder_frozen_batch_norm=True, **kwargs):
    """Initializes the model.

    Args:
      decoder: `tf_keras.Model` mapping the backbone's endpoint dict to
        {str(level): `[B, H / 2^level, W / 2^level, C]`} for every level in
        [min_level, max_level] (Model Garden's FPN).
      min_level: finest level the RPN runs on.
      max_level: coarsest level the RPN runs on.
      anchor_num_scales: anchor sides per level.
      anchor_size: anchor side at scale 0 in units of the level's stride.
      decoder_frozen_batch_norm: the decoder always runs in inference mode
        (its batch norms normalize with their moving statistics, their
        scales and offsets still train); False: in training mode in
        training (batch statistics).
      **kwargs: `MncModel` arguments; `anchor_aspect_ratios` are the ratios
        on every level, `anchor_scales` and `feature_stride` are unused.
    """
    kwargs.setdefault('anchor_scales', ())
    kwargs.setdefault('feature_stride', 2 ** int(min_level))
    super().__init__(**kwargs)
    if int(max_level) < int(min_level):
      raise ValueError(f'decoder max_level ({max_level}) must be >= '
                       f'min_level ({min_level}).')
    self._config_dict.update({
        'decoder': decoder,
        'min_level': int(min_level),
        'max_level': int(max_level),
        'anchor_num_scales': int(anchor_num_scales),
        'anchor_size': float(anchor_size),
        'decoder_frozen_batch_norm': bool(decoder_frozen_batch_norm),
    })
    self.decoder = decoder

  @property
  def levels(self):
    """The RPN's pyramid levels, finest first."""
    cfg = self._config_dict
    return list(range(cfg['min_level'], cfg['max_level'] + 1))

  @property
  def _anchors_per_location(self):
    cfg = self._config_dict
    return cfg['anchor_num_scales'] * len(cfg['anchor_aspect_ratios'])

  def _image_size(self, images):
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
      raise ValueError('MncFpnModel needs a static image height and width '
                       f'(the data pipeline pads to a fixed size); got '
                       f'{images.shape}.')
    multiple = 2 ** min(self._config_dict['max_level'], BACKBONE_MAX_LEVEL)
    if height % multiple or width % multiple:
      raise ValueError(f'MncFpnModel needs an image height and width that '
                       f'are multiples of {multiple} (the pyramid\'s '
                       f'coarsest backbone stride); got {height} x {width}: '
                       'pad the input to a multiple of it.')
    return height, width

  def _anchors(self, images):
    """`[1, N / A, 4A]`: every level's anchors, finest level first."""
    cfg = self._config_dict
    multilevel = anchor_lib.Anchor(
        min_level=cfg['min_level'], max_level=cfg['max_level'],
        num_scales=cfg['anchor_num_scales'],
        aspect_ratios=cfg['anchor_aspect_ratios'],
        anchor_size=cfg['anchor_size'],
        image_size=list(self._image_size(images))).multilevel_boxes
    return tf.concat([tf.reshape(multilevel[str(level)],
                                 [1, -1, multilevel[str(level)].shape[-1]])
                      for level in self.levels], axis=1)

  def _anchor_level_sizes(self, images):
    height, width = self._image_size(images)
    return [-(-height // 2 ** level) * -(-width // 2 ** level) *
            self._anchors_per_location for level in self.levels]

  def features(self, images, training=None):
    """{str(level): `[B, H / 2^level, W / 2^level, C]`}, the pyramid."""
    self._image_size(images)
    endpoints = self.backbone(images, training=training)
    if self._config_dict['decoder_frozen_batch_norm']:
      training = False
    return self.decoder(endpoints, training=training)

  def roi_feature_map(self, features):
    """The pyramid itself: `MultilevelRoiWarp` picks each RoI's level."""
    return features

  def rpn_outputs(self, features):
    """The shared RPN head on every level, side by side as one 1 x N map.

    Returns:
      scores: float32 `[B, 1, L, A]`, L = the locations of all levels.
      boxes: float32 `[B, 1, L, 4A]` deltas.
    """
    scores, boxes = [], []
    for level in self.levels:
      level_scores, level_boxes = self.rpn_head(features[str(level)])
      batch = tf.shape(level_scores)[0]
      locations = level_scores.shape[1] * level_scores.shape[2]
      scores.append(tf.reshape(level_scores,
                               [batch, 1, locations, level_scores.shape[-1]]))
      boxes.append(tf.reshape(level_boxes,
                              [batch, 1, locations, level_boxes.shape[-1]]))
    return [tf.cast(tf.concat(t, axis=2), tf.float32)
            for t in (scores, boxes)]
