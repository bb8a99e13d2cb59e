# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Stage 3 (and 5): categorizing instances (paper §3.3, §5, §6).

Two pathways on the stage-2 RoI features: the mask-based one sees the features
multiplied by the stage-2 mask (Eq. 3), the box-based one the features as they
are; each is max pooled to `pooled_size` and goes through two fc layers
(VGG-16's fc6/fc7 shapes by default).  On their concatenation sit the
(N+1)-way mask-level classifier (used at inference), the (N+1)-way box-level
classifier (training only) and the 4(N+1) class-wise box regressor.
"""

import tensorflow as tf
import tf_keras

from mnc_tf.modeling.heads.mask_head import _flatten_rois
from mnc_tf.modeling.layers.masking import FeatureMasking
from mnc_tf.ops import shared_kernel_gradient
from mnc_tf.ops.roi_pooling import max_pool_rois


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class MaskedClassifierHead(tf_keras.layers.Layer):
  """Mask- and box-pathway fc layers, two classifiers and box regression."""

  def __init__(self, num_classes, pooled_size=7, fc_dims=4096,
               dropout_rate=0.0, shared_fc_gradient=False,
               kernel_regularizer=None, **kwargs):
    """Initializes the head.

    Args:
      num_classes: N + 1 (background included).
      pooled_size: side the RoI features are max pooled to before fc6.
      fc_dims: width of fc6 / fc7 of each pathway.
      dropout_rate: dropout after fc6 and fc7 in training.
      shared_fc_gradient: with `carrier_rows` / `carriers` in `call`, the
        fc6 / fc7 kernels shared by stages 3 and 5 get one gradient matmul
        (`ops.shared_kernel_gradient`) instead of two weight-sized partials.
      kernel_regularizer: optional regularizer of the fc kernels.
      **kwargs: base layer arguments.
    """
    super().__init__(**kwargs)
    self._config_dict = {
        'num_classes': int(num_classes),
        'pooled_size': int(pooled_size),
        'fc_dims': int(fc_dims),
        'dropout_rate': float(dropout_rate),
        'shared_fc_gradient': bool(shared_fc_gradient),
    }
    reg = tf_keras.regularizers.get(kernel_regularizer)
    self._config_dict['kernel_regularizer'] = (
        tf_keras.regularizers.serialize(reg) if reg else None)
    self._masking = FeatureMasking(name='feature_masking')

    def fc(name):
      return tf_keras.layers.Dense(fc_dims, activation='relu',
                                   kernel_initializer='he_normal',
                                   kernel_regularizer=reg, name=name)

    # Names follow VGG-16's fc6 / fc7 so that ImageNet weights can be loaded.
    self.fc6_mask, self.fc7_mask = fc('fc6_mask'), fc('fc7_mask')
    self.fc6_box, self.fc7_box = fc('fc6_box'), fc('fc7_box')
    self._dropout = tf_keras.layers.Dropout(dropout_rate)
    self._cls_mask = tf_keras.layers.Dense(
        num_classes, name='cls_mask_score', kernel_regularizer=reg,
        kernel_initializer=tf_keras.initializers.RandomNormal(stddev=0.01))
    self._cls_box = tf_keras.layers.Dense(
        num_classes, name='cls_box_score', kernel_regularizer=reg,
        kernel_initializer=tf_keras.initializers.RandomNormal(stddev=0.01))
    self._box = tf_keras.layers.Dense(
        4 * num_classes, name='bbox_pred', kernel_regularizer=reg,
        kernel_initializer=tf_keras.initializers.RandomNormal(stddev=0.001))

  def _fc(self, fc, x, carrier_rows, carriers, new_carriers):
    """relu(x W + b) of Dense `fc` on `[B, K, D]`, W's gradient shared."""
    if carrier_rows is None and carriers is None:
      return fc(x)
    if not fc.built:  # Built by Keras (its name scope) on zero rows.
      fc(x[:0])
    shape = tf.shape(x)
    rows = tf.reshape(x, [-1, x.shape[-1]])
    kernel = tf.convert_to_tensor(fc.kernel)
    if carriers is None:
      y, new_carriers[fc.name] = shared_kernel_gradient.first_use(
          rows, kernel, carrier_rows)
    else:
      y = shared_kernel_gradient.later_use(rows, kernel, carriers[fc.name])
    y = fc.activation(tf.nn.bias_add(y, fc.bias))
    return tf.reshape(y, tf.concat([shape[:-1], [fc.units]], axis=0))

  def _pathway(self, features, fc6, fc7, training, carrier_rows=None,
               carriers=None, new_carriers=None):
    x = _flatten_rois(max_pool_rois(features,
                                     self._config_dict['pooled_size']))
    x = self._dropout(self._fc(fc6, x, carrier_rows, carriers, new_carriers),
                      training=training)
    return self._dropout(
        self._fc(fc7, x, carrier_rows, carriers, new_carriers),
        training=training)

  def call(self, roi_features, mask_probs, training=None, carrier_rows=None,
           carriers=None):
    """Classifies.

    Args:
      roi_features: `[B, K, P, P, C]` stage-2 RoI features.
      mask_probs: `[B, K, m, m]` stage-2 mask probabilities.
      training: enables dropout.
      carrier_rows: with `shared_fc_gradient`, the first of two uses of the
        fc kernels (stage 3): at least the B x K' rows of the later call.
      carriers: with `shared_fc_gradient`, the later use (stage 5): the
        carriers the first call returned.

    Returns:
      cls_mask_logits: `[B, K, N + 1]` mask-level classifier logits.
      cls_box_logits: `[B, K, N + 1]` box-level classifier logits.
      box_outputs: `[B, K, 4 (N + 1)]` class-wise (dy, dx, dh, dw) deltas.
      With `shared_fc_gradient` and `carrier_rows` or `carriers`, a fourth
      output: the dict of carriers (fc layer name -> `[R, D + F]`; empty for
      the later use).
    """
    if not self._config_dict['shared_fc_gradient']:
      carrier_rows = carriers = None
    sharing = carrier_rows is not None or carriers is not None
    new_carriers = {}
    masked = self._masking(roi_features, mask_probs)
    joined = tf.concat([
        self._pathway(masked, self.fc6_mask, self.fc7_mask, training,
                      carrier_rows, carriers, new_carriers),
        self._pathway(roi_features, self.fc6_box, self.fc7_box, training,
                      carrier_rows, carriers, new_carriers),
    ], axis=-1)
    outputs = (self._cls_mask(joined), self._cls_box(joined),
               self._box(joined))
    return outputs + (new_carriers,) if sharing else outputs

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config
