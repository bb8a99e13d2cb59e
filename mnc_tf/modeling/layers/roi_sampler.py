# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Samples the RoIs of stages 2 and 3 in training (paper §6: 64 per image).

Unlike Model Garden's `ROISampler`, which returns gathered boxes, this layer
returns *indices* (so the model gathers its differentiable boxes itself) and a
validity flag per sample.  Matching is by box IoU with the valid gt boxes.
Sampling is the original MNC release's: up to round(K * fg_fraction) random
foreground boxes, the rest random background drawn from IoU bands in fixed
shares; when there are too few candidates the remaining slots are padding,
flagged invalid.  (Model Garden's static `BoxSampler` fills
missing slots with index 0 whatever it is, which breaks the foreground quota
and cannot be told apart from a real sample.)
"""

import tensorflow as tf
import tf_keras

from mnc_tf.ops import targets


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class RoiSampler(tf_keras.layers.Layer):
  """Foreground / background sampling of candidate boxes in IoU bands."""

  def __init__(self, num_samples=64, fg_fraction=0.3, fg_iou_threshold=0.5,
               bg_iou_thresholds=(0.5, 0.1, 0.0), bg_fractions=(0.85, 0.15),
               **kwargs):
    """Initializes the layer.

    The defaults are the original release's (`lib/mnc_config.py`:
    `FG_FRACTION` 0.3, `BG_FRACTION` [0.85, 0.15], `BG_THRESH_HI` [0.5, 0.1],
    `BG_THRESH_LO` [0.1, 0.0]; `lib/pylayer/proposal_target_layer.py`
    `_sample_rois`): up to round(K * fg_fraction) random foreground boxes;
    of the remaining R = K - (foreground taken) slots, band i gets up to
    round(R * bg_fractions[i]) random boxes with IoU in [t_{i+1}, t_i) of
    `bg_iou_thresholds` t; slots a band cannot fill stay padding (the
    original returns fewer RoIs).

    Args:
      num_samples: K, samples per image.
      fg_fraction: at most round(K * fg_fraction) foreground samples.
      fg_iou_threshold: IoU >= this is foreground.
      bg_iou_thresholds: descending band edges of the background IoUs, one
        more than `bg_fractions` (the first is usually `fg_iou_threshold`).
      bg_fractions: share of the background slots of each band.
      **kwargs: base layer arguments.
    """
    super().__init__(**kwargs)
    bg_iou_thresholds = [float(t) for t in bg_iou_thresholds]
    bg_fractions = [float(f) for f in bg_fractions]
    if (len(bg_iou_thresholds) != len(bg_fractions) + 1
        or any(a <= b for a, b in zip(bg_iou_thresholds,
                                      bg_iou_thresholds[1:]))):
      raise ValueError(
          'bg_iou_thresholds must be descending band edges, one more than '
          f'bg_fractions; got {bg_iou_thresholds} and {bg_fractions}.')
    self._config_dict = {
        'num_samples': int(num_samples),
        'fg_fraction': float(fg_fraction),
        'fg_iou_threshold': float(fg_iou_threshold),
        'bg_iou_thresholds': bg_iou_thresholds,
        'bg_fractions': bg_fractions,
    }

  def call(self, boxes, box_valid, gt_boxes, gt_valid):
    """Samples.

    Args:
      boxes: `[B, N, 4]` candidate boxes (only their values are used).
      box_valid: bool `[B, N]`.
      gt_boxes: `[B, M, 4]`.
      gt_valid: bool `[B, M]`.

    Returns:
      indices: int32 `[B, K]` into the candidates: foreground first, then
        each background band in order, then padding (index 0).
      valid: bool `[B, K]`; False for padding.
    """
    cfg = self._config_dict
    num_samples = cfg['num_samples']
    max_iou, _ = targets.match_boxes(tf.stop_gradient(boxes), gt_boxes,
                                     gt_valid)
    has_gt = tf.reduce_any(gt_valid, axis=-1, keepdims=True)
    positive = box_valid & has_gt & self.is_foreground(max_iou)
    fg_quota = min(int(round(num_samples * cfg['fg_fraction'])), num_samples)
    num_fg = tf.minimum(
        tf.reduce_sum(tf.cast(positive, tf.int32), axis=1), fg_quota)
    remaining = tf.cast(num_samples - num_fg, tf.float64)
    groups, quotas = [positive], [num_fg]
    edges = cfg['bg_iou_thresholds']
    for high, low, fraction in zip(edges, edges[1:], cfg['bg_fractions']):
      groups.append(box_valid & (max_iou < high) & (max_iou >= low)
                    & tf.logical_not(positive))
      quotas.append(tf.cast(tf.round(remaining * fraction), tf.int32))
    return sample_groups(groups, quotas, num_samples)

  def is_foreground(self, max_iou):
    """bool: a sample with this best-gt box IoU counts as foreground."""
    return max_iou >= self._config_dict['fg_iou_threshold']

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config


def sample_groups(groups, quotas, num_samples):
  """Random sampling of up to `quotas[g]` members of each group, static shapes.

  Args:
    groups: list of bool `[B, N]` candidate sets (disjoint); N may be
      dynamic.
    quotas: list of int32 `[B]` most samples taken from each group.
    num_samples: K.

  Returns:
    indices: int32 `[B, K]`: group 0's picks first, then group 1's, ...,
      then padding (index 0).  Picks are without replacement, in random
      order; a group with fewer members than its quota gives all of them.
    valid: bool `[B, K]`, False for padding.
  """
  num_candidates = groups[0].shape[1]
  if num_candidates is None:  # e.g. proposals + the batch's gt rows in use
    depth = tf.minimum(num_samples, tf.shape(groups[0])[1])
  else:
    depth = min(num_samples, num_candidates)
  priority = tf.random.uniform(tf.shape(groups[0]))
  slot = tf.range(num_samples)[None, :]
  indices = tf.zeros_like(slot) + tf.zeros_like(quotas[0])[:, None]
  valid = tf.zeros_like(indices, tf.bool)
  start = tf.zeros_like(quotas[0])[:, None]
  for group, quota in zip(groups, quotas):
    key = tf.where(group, priority, -tf.ones_like(priority))
    top = tf.math.top_k(key, k=depth).indices
    count = tf.minimum(tf.reduce_sum(tf.cast(group, tf.int32), axis=1),
                       quota)[:, None]
    local = slot - start
    take = (local >= 0) & (local < count)
    pick = tf.gather(top, tf.clip_by_value(local, 0, depth - 1), batch_dims=1)
    indices = tf.where(take, pick, indices)
    valid |= take
    start += count
  return indices, valid
