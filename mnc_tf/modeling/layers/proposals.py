# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Stage-1 proposals that stay differentiable functions of the RPN deltas.

Model Garden's `MultilevelROIGenerator` decodes, clips, filters, takes the top
k and runs NMS, and its Mask R-CNN then stops the gradient at the RoIs.  MNC
needs the kept boxes to remain functions of the RPN box deltas (paper §4, §6:
"NMS ... implemented as routers of forward/backward pathways").  Here every
selection (min-size filter, top-k, NMS) computes *indices* on stop-gradient
copies, and the kept boxes are a `tf.gather` of the differentiable decoded
boxes with those indices.
"""

import tensorflow as tf
import tf_keras

from mnc_tf.ops import box_utils
from mnc_tf.ops import gradients
from official.vision.ops import box_ops


def decode_proposals(deltas, anchors, image_shape):
  """Every anchor's box: decode the RPN deltas, clip to the image.

  Args:
    deltas: `[B, N, 4]` (dy, dx, dh, dw) for the N = h * w * A anchors.
    anchors: `[h, w, 4A]` or `[N, 4]` anchors (ymin, xmin, ymax, xmax).
    image_shape: `[B, 2]` (height, width).

  Returns:
    `[B, N, 4]` boxes, differentiable w.r.t. `deltas`.
  """
  return box_utils.clip_boxes(decode_unclipped(deltas, anchors), image_shape)


def decode_unclipped(deltas, anchors):
  """`decode_proposals` before the clip to the image."""
  anchors = tf.reshape(tf.cast(anchors, deltas.dtype), [1, -1, 4])
  return box_ops.decode_boxes(deltas, anchors)


def top_k_per_level(scores, k, level_sizes):
  """The top `k` scores of each level, levels concatenated finest first.

  Args:
    scores: `[B, N]` scores, N = sum(level_sizes).
    k: kept per level (all of a level with fewer).
    level_sizes: list of ints, the consecutive slices of N that are levels.

  Returns:
    values: `[B, sum_l min(k, n_l)]` scores, each level's descending.
    index: int32, same shape: positions in N.

  Raises:
    ValueError: the level sizes do not add up to N.
  """
  if scores.shape[-1] is not None and sum(level_sizes) != scores.shape[-1]:
    raise ValueError(f'level_sizes {list(level_sizes)} add up to '
                     f'{sum(level_sizes)}, not to the {scores.shape[-1]} '
                     'anchors of the RPN outputs.')
  values, index, start = [], [], 0
  for size in level_sizes:
    top_values, top_index = tf.math.top_k(scores[:, start:start + size],
                                          k=min(k, size))
    values.append(top_values)
    index.append(top_index + start)
    start += size
  if len(values) == 1:
    return values[0], index[0]
  return tf.concat(values, axis=1), tf.concat(index, axis=1)


@tf_keras.utils.register_keras_serializable(package='mnc_tf')
class ProposalGenerator(tf_keras.layers.Layer):
  """Decode -> clip -> drop tiny -> top-k -> NMS -> keep, as routing only."""

  def __init__(self, pre_nms_top_k=12000, test_pre_nms_top_k=6000,
               nms_iou_threshold=0.7, num_proposals=300,
               test_num_proposals=300, min_size=16.0,
               min_size_in_original_pixels=True,
               box_gradient_inside_image_only=True, **kwargs):
    """Initializes the layer.

    Args:
      pre_nms_top_k: boxes kept by score before NMS (training).
      test_pre_nms_top_k: the same at inference.
      nms_iou_threshold: NMS IoU threshold.
      num_proposals: boxes kept after NMS (training).
      test_num_proposals: the same at inference.
      min_size: boxes with a side < this are dropped.
      min_size_in_original_pixels: `min_size` is in pixels of the original
        image (times the image's scale in network-input pixels, as the
        original release's `proposal_layer.py`: 16 x im_scale); False: in
        network-input pixels.
      box_gradient_inside_image_only: in training, a proposal whose anchor
        crosses the image border, or whose decoded box was clipped to the
        image, passes no gradient back to its four deltas (the original
        release's `proposal_layer.py` backward); False: every proposal does
        (the clip itself stops the clipped coordinates).
      **kwargs: base layer arguments.
    """
    super().__init__(**kwargs)
    self._config_dict = {
        'pre_nms_top_k': int(pre_nms_top_k),
        'test_pre_nms_top_k': int(test_pre_nms_top_k),
        'nms_iou_threshold': float(nms_iou_threshold),
        'num_proposals': int(num_proposals),
        'test_num_proposals': int(test_num_proposals),
        'min_size': float(min_size),
        'min_size_in_original_pixels': bool(min_size_in_original_pixels),
        'box_gradient_inside_image_only': bool(
            box_gradient_inside_image_only),
    }

  def num_outputs(self, training):
    """Static number of proposals returned."""
    key = 'num_proposals' if training else 'test_num_proposals'
    return self._config_dict[key]

  def call(self, rpn_scores, rpn_boxes, anchors, image_shape, training=None,
           image_scale=None, level_sizes=None):
    """Proposes boxes.

    Args:
      rpn_scores: `[B, h, w, A]` objectness logits.
      rpn_boxes: `[B, h, w, 4A]` box deltas (dy, dx, dh, dw).
      anchors: `[h, w, 4A]` anchors.
      image_shape: `[B, 2]` (height, width) of the scaled image (boxes are
        clipped to it).
      training: selects the training or inference top-k / proposal counts.
      image_scale: `[B, 2]` (y, x) network-input pixels per original pixel
        (Model Garden's `image_info[:, 2]`); None: 1.
      level_sizes: optional list of ints, the anchors of each pyramid level
        in the flat (h * w * A) order, summing to it: the pre-NMS top-k is
        taken per level, then one NMS runs over the kept boxes of all levels
        (as detectron2's FPN proposals); None: one top-k over all anchors.

    Returns:
      rois: `[B, P, 4]` kept boxes, differentiable w.r.t. `rpn_boxes`; padding
        rows (fewer than P boxes survive) are zero.
      roi_scores: `[B, P]` objectness probabilities (0 for padding).
      roi_valid: bool `[B, P]`.
      roi_anchor_index: int32 `[B, P]` flat (h * w * A) index of each kept
        box's anchor.
    """
    cfg = self._config_dict
    pre_nms = cfg['pre_nms_top_k'] if training else cfg['test_pre_nms_top_k']
    num_out = self.num_outputs(training)
    batch = tf.shape(rpn_scores)[0]
    num_anchors = 1
    for dim in rpn_scores.shape[1:]:
      num_anchors *= dim
    scores = tf.reshape(rpn_scores, [batch, num_anchors])
    deltas = tf.reshape(rpn_boxes, [batch, num_anchors, 4])
    unclipped = decode_unclipped(deltas, anchors)
    boxes = box_utils.clip_boxes(unclipped, image_shape)

    fixed = tf.stop_gradient(boxes)
    probs = tf.sigmoid(tf.stop_gradient(scores))
    min_size = tf.fill([batch, 2], cfg['min_size'])
    if cfg['min_size_in_original_pixels'] and image_scale is not None:
      min_size *= tf.cast(image_scale, min_size.dtype)
    min_size = tf.cast(min_size, fixed.dtype)[:, None, :]
    big_enough = tf.reduce_all(fixed[..., 2:] - fixed[..., :2] >= min_size,
                               axis=-1)
    probs = tf.where(big_enough, probs, -tf.ones_like(probs))
    top_probs, top_index = top_k_per_level(probs, pre_nms,
                                           level_sizes or [num_anchors])
    top_boxes = box_utils.batched_gather(fixed, top_index)

    def nms_one(args):
      one_boxes, one_scores = args
      # NMS only routes (indices); float32 because NonMaxSuppressionV4 has
      # no bfloat16 kernel (mixed_bfloat16 policies).
      keep, num_valid = tf.raw_ops.NonMaxSuppressionV4(
          boxes=tf.cast(one_boxes, tf.float32),
          scores=tf.cast(one_scores, tf.float32), max_output_size=num_out,
          iou_threshold=cfg['nms_iou_threshold'], score_threshold=-0.5,
          pad_to_max_output_size=True)
      keep = tf.reshape(keep, [num_out])
      return keep, tf.range(num_out) < num_valid

    keep, roi_valid = tf.map_fn(
        nms_one, (top_boxes, top_probs),
        fn_output_signature=(tf.TensorSpec([num_out], tf.int32),
                             tf.TensorSpec([num_out], tf.bool)))
    anchor_index = tf.stop_gradient(box_utils.batched_gather(top_index, keep))
    rois = box_utils.batched_gather(boxes, anchor_index)
    if training and cfg['box_gradient_inside_image_only']:
      inside = (box_utils.boxes_inside(
          tf.reshape(anchors, [-1, 4]), image_shape) &
                box_utils.boxes_inside(tf.stop_gradient(unclipped),
                                       image_shape))
      rois = gradients.gradient_only_where(
          rois, box_utils.batched_gather(inside, anchor_index))
    rois = tf.where(roi_valid[..., None], rois, tf.zeros_like(rois))
    roi_scores = box_utils.batched_gather(top_probs, keep)
    roi_scores = tf.where(roi_valid, roi_scores, tf.zeros_like(roi_scores))
    return rois, roi_scores, roi_valid, anchor_index

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config
