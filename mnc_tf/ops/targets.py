# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Training targets of the MNC cascade (paper §6, "Positive/negative samples").

All functions are pure TensorFlow, batched, and meant to run under
`tf.stop_gradient` inputs: targets are constants of the loss.  Boxes are
(ymin, xmin, ymax, xmax) in network-input pixels; gt padding rows have
`gt_valid == False` (their boxes are set to -1 by the caller).
"""

import tensorflow as tf

from official.vision.ops import anchor as mg_anchor
from official.vision.ops import box_ops


def rpn_targets(anchors, gt_boxes, gt_valid, fg_iou_threshold=0.7,
                bg_iou_threshold=0.3, num_samples=256, fg_fraction=0.5,
                inside=None):
  """Stage-1 targets: labels and box deltas of sampled anchors.

  Model Garden's `RpnAnchorLabeler` per image (on its valid gt rows only, so
  padding never force-matches an anchor): IoU >= fg is positive, < bg
  negative, each gt's best anchor positive; `num_samples` anchors sampled with
  at most `fg_fraction` positives.

  Args:
    anchors: `[h, w, A * 4]` anchors.
    gt_boxes: `[B, M, 4]` gt boxes.
    gt_valid: bool `[B, M]`.
    fg_iou_threshold: positive IoU threshold.
    bg_iou_threshold: negative IoU threshold.
    num_samples: anchors sampled per image.
    fg_fraction: maximum positive fraction.
    inside: optional bool `[B, h * w * A]`: anchors outside are ignored
      (-1): never matched, never a gt's best anchor, never sampled (the
      original release labels only the anchors inside the image).

  Returns:
    score_targets: int32 `[B, h, w, A]`, 1 positive, 0 negative, -1 ignored.
    box_targets: float32 `[B, h, w, A * 4]` encoded (dy, dx, dh, dw) deltas,
      zero where not positive.
  """
  anchor_dict = {'0': tf.cast(anchors, tf.float32)}
  height, width, num_coords = anchors.shape.as_list()
  if inside is None:
    inside = tf.ones([tf.shape(gt_boxes)[0], height * width * num_coords // 4],
                     tf.bool)

  def label_one(args):
    boxes, valid, one_inside = args
    labeler = _InsideAnchorLabeler(
        one_inside, match_threshold=fg_iou_threshold,
        unmatched_threshold=bg_iou_threshold,
        rpn_batch_size_per_im=num_samples, rpn_fg_fraction=fg_fraction)
    boxes = tf.boolean_mask(boxes, valid)
    labels = tf.ones([tf.shape(boxes)[0], 1], tf.int32)
    scores, deltas = labeler.label_anchors(anchor_dict, boxes, labels)
    return tf.cast(scores['0'], tf.int32), tf.cast(deltas['0'], tf.float32)

  score_targets, box_targets = tf.map_fn(
      label_one, (tf.cast(gt_boxes, tf.float32), gt_valid, inside),
      fn_output_signature=(
          tf.TensorSpec([height, width, num_coords // 4], tf.int32),
          tf.TensorSpec([height, width, num_coords], tf.float32)))
  return score_targets, box_targets


class _InsideAnchorLabeler(mg_anchor.RpnAnchorLabeler):
  """Model Garden's RPN labeler that ignores the anchors outside `inside`.

  Their IoU with every gt is -1 (never matched, never a gt's best anchor) and
  their match result is 'ignored' before the sampling (label -1).
  """

  def __init__(self, inside, **kwargs):
    super().__init__(**kwargs)
    self._iou = self.similarity_calc
    self._inside = inside
    self.similarity_calc = self._inside_iou

  def _inside_iou(self, anchors, gt_boxes):
    iou = self._iou(anchors, gt_boxes)
    return tf.where(self._inside[:, None], iou, -tf.ones_like(iou))

  def _get_rpn_samples(self, match_results):
    return super()._get_rpn_samples(
        tf.where(self._inside, match_results, -2 * tf.ones_like(match_results)))


def mix_proposal_anchors(score_targets, box_targets, anchors, gt_boxes,
                         gt_valid, anchor_index, sample_is_fg, sample_valid,
                         background_box_targets=False, inside=None):
  """The original release's MIX_INDEX: sampled proposals' anchors join L1.

  The anchor of every proposal sampled for stages 2-3 is labelled for the
  RPN loss: positive (with a box target towards the anchor's best gt) when
  its proposal is a stage-3 foreground sample, negative when background.
  The box gradient moves exactly these proposals, so their anchors get a
  regression target that holds the RPN deltas against it.

  Args:
    score_targets: int32 `[B, h, w, A]` from `rpn_targets`.
    box_targets: `[B, h, w, 4A]` from `rpn_targets`.
    anchors: `[h, w, 4A]`.
    gt_boxes: `[B, M, 4]`.
    gt_valid: bool `[B, M]`.
    anchor_index: int32 `[B, K]` anchor (flat h * w * A index) of each
      sampled proposal.
    sample_is_fg: bool `[B, K]` foreground sample.
    sample_valid: bool `[B, K]`; False for gt rows and padding.
    background_box_targets: an anchor made negative keeps the box target it
      had (False: zeroed, as the original release, whose
      `anchor_target_layer.py` gives label-0 anchors no box weight).
    inside: optional bool `[B, h * w * A]`: anchors outside keep their
      targets (the release mixes only the anchors inside the image).

  Returns:
    (score_targets, box_targets) with the same shapes.
  """
  shape = tf.shape(score_targets)
  batch = shape[0]
  num_anchors = 1
  for dim in score_targets.shape[1:]:
    num_anchors *= dim
  flat_scores = tf.reshape(score_targets, [batch, num_anchors])
  flat_boxes = tf.reshape(box_targets, [batch, num_anchors, 4])
  flat_anchors = tf.reshape(tf.cast(anchors, tf.float32), [num_anchors, 4])
  batch_index = tf.broadcast_to(tf.range(batch)[:, None],
                                tf.shape(anchor_index))
  index = tf.stack([batch_index, anchor_index], axis=-1)
  zeros = tf.zeros([batch, num_anchors], tf.int32)
  forced_fg = tf.tensor_scatter_nd_max(
      zeros, index, tf.cast(sample_valid & sample_is_fg, tf.int32)) > 0
  forced_bg = tf.tensor_scatter_nd_max(
      zeros, index, tf.cast(sample_valid & ~sample_is_fg, tf.int32)) > 0
  forced_fg &= tf.reduce_any(gt_valid, axis=-1, keepdims=True)
  if inside is not None:
    forced_fg &= inside
    forced_bg &= inside
  flat_scores = tf.where(forced_fg, tf.ones_like(flat_scores),
                         tf.where(forced_bg, tf.zeros_like(flat_scores),
                                  flat_scores))
  tiled = tf.broadcast_to(flat_anchors[None], [batch, num_anchors, 4])
  _, best_gt = match_boxes(tiled, gt_boxes, gt_valid)
  matched = tf.gather(tf.cast(gt_boxes, tf.float32), best_gt, batch_dims=1)
  encoded = box_ops.encode_boxes(matched, tiled)
  flat_boxes = tf.where(forced_fg[..., None], encoded, flat_boxes)
  if not background_box_targets:
    cleared = forced_bg & ~forced_fg
    flat_boxes = tf.where(cleared[..., None], tf.zeros_like(flat_boxes),
                          flat_boxes)
  return (tf.reshape(flat_scores, tf.shape(score_targets)),
          tf.reshape(flat_boxes, tf.shape(box_targets)))


def match_boxes(boxes, gt_boxes, gt_valid):
  """Best-overlapping gt box of every box.

  Args:
    boxes: `[B, K, 4]`.
    gt_boxes: `[B, M, 4]`.
    gt_valid: bool `[B, M]`.

  Returns:
    max_iou: `[B, K]` IoU with the best gt (0 when the image has none).
    gt_index: int32 `[B, K]` index of that gt (0 when none).
  """
  iou = box_ops.bbox_overlap(tf.cast(boxes, tf.float32),
                             tf.cast(gt_boxes, tf.float32))
  iou = tf.where(gt_valid[:, None, :], iou, -tf.ones_like(iou))
  max_iou = tf.maximum(tf.reduce_max(iou, axis=-1), 0.0)
  gt_index = tf.argmax(iou, axis=-1, output_type=tf.int32)
  return max_iou, gt_index


def mask_sample_positions(boxes, size, image_size):
  """crop_and_resize boxes that sample the RoI-warp grid of each box.

  The m x m grid samples pixel-index position y1 + (i + 0.5) h / m - 0.5
  (pixel centres at integers), the same points as `roi_warp` with scale 1.

  Args:
    boxes: `[..., 4]` boxes in pixels.
    size: m.
    image_size: (height, width) scalars of the sampled image.

  Returns:
    `[..., 4]` normalized boxes for `tf.image.crop_and_resize`.
  """
  height = tf.cast(image_size[0], boxes.dtype)
  width = tf.cast(image_size[1], boxes.dtype)
  y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
  first, last = 0.5 / size, (size - 0.5) / size
  def norm(start, end, extent):
    return ((start + first * (end - start) - 0.5) / tf.maximum(extent - 1, 1),
            (start + last * (end - start) - 0.5) / tf.maximum(extent - 1, 1))
  ny1, ny2 = norm(y1, y2, height)
  nx1, nx2 = norm(x1, x2, width)
  return tf.stack([ny1, nx1, ny2, nx2], axis=-1)


def crop_masks(gt_masks, gt_index, boxes, mask_size):
  """Each box's gt mask sampled bilinearly on the box's m x m RoI-warp grid.

  Args:
    gt_masks: uint8 `[B, M, H, W]` full-image gt masks.
    gt_index: int32 `[B, K]` gt instance of each box.
    boxes: `[B, K, 4]` boxes.
    mask_size: m.

  Returns:
    float32 `[B, K, m, m]` in [0, 1]; samples outside the image are 0, and so
    is every sample of a box with a non-finite coordinate (as the RoI warp
    gives zeros there; a diverged model gets a NaN loss, not a crash here).
  """
  shape = tf.shape(gt_masks)
  batch, num_gt, height, width = shape[0], shape[1], shape[2], shape[3]
  images = tf.reshape(gt_masks, [batch * num_gt, height, width, 1])
  num_boxes = tf.shape(boxes)[1]
  image_index = (tf.range(batch)[:, None] * num_gt + gt_index)
  boxes = tf.cast(boxes, tf.float32)
  finite = tf.reduce_all(tf.math.is_finite(boxes), axis=-1)  # [B, K]
  boxes = tf.where(finite[..., None], boxes, tf.zeros_like(boxes))
  crop_boxes = mask_sample_positions(boxes, mask_size, (height, width))
  crops = tf.image.crop_and_resize(
      images, tf.reshape(crop_boxes, [-1, 4]), tf.reshape(image_index, [-1]),
      [mask_size, mask_size], method='bilinear', extrapolation_value=0.0)
  crops = tf.reshape(crops, [batch, num_boxes, mask_size, mask_size])
  return crops * tf.cast(finite, tf.float32)[..., None, None]


def crop_mask_targets(gt_masks, gt_index, boxes, mask_size, threshold=0.5):
  """Stage-2 targets: each box's gt mask cropped to the box, m x m, binary.

  Args:
    gt_masks: uint8 `[B, M, H, W]` full-image gt masks.
    gt_index: int32 `[B, K]` gt instance of each box.
    boxes: `[B, K, 4]` boxes.
    mask_size: m.
    threshold: a bilinear sample >= this is foreground.

  Returns:
    float32 `[B, K, m, m]` in {0, 1} (bilinear sample >= threshold).
  """
  crops = crop_masks(gt_masks, gt_index, boxes, mask_size)
  return tf.cast(crops >= threshold, tf.float32)


def gt_mask_areas(gt_masks):
  """Pixel count of every gt mask: `[B, M, H, W]` uint8 -> float32 `[B, M]`."""
  return tf.cast(tf.reduce_sum(tf.cast(gt_masks > 0, tf.int32), axis=[2, 3]),
                 tf.float32)


def mask_iou(mask_probs, mask_targets, boxes, gt_areas, threshold=0.4):
  """Image-space IoU of predicted masks with their gt masks.

  The prediction, binarized at `threshold`, covers its box; each of its m x m
  cells stands for (box area / m^2) pixels.  The intersection counts cells
  where the cropped gt (`mask_targets`) is also on; the gt area is the full
  instance's pixel count (parts outside the box count in the union).

  Args:
    mask_probs: `[B, K, m, m]` sigmoid outputs.
    mask_targets: `[B, K, m, m]` binary gt crops in the same boxes.
    boxes: `[B, K, 4]`.
    gt_areas: `[B, K]` pixel areas of the matched gt masks.
    threshold: binarization threshold.

  Returns:
    `[B, K]` IoU in [0, 1].
  """
  size = tf.cast(tf.shape(mask_probs)[-1], tf.float32)
  height = tf.maximum(boxes[..., 2] - boxes[..., 0], 0.0)
  width = tf.maximum(boxes[..., 3] - boxes[..., 1], 0.0)
  cell_area = height * width / (size * size)
  pred = tf.cast(mask_probs >= threshold, tf.float32)
  inter = tf.reduce_sum(pred * mask_targets, axis=[2, 3]) * cell_area
  pred_area = tf.reduce_sum(pred, axis=[2, 3]) * cell_area
  union = pred_area + gt_areas - inter
  return tf.where(union > 0.0, inter / tf.maximum(union, 1e-6),
                  tf.zeros_like(union))


def cascade_targets(boxes, sample_valid, mask_probs, gt_boxes, gt_valid,
                    gt_class_indices, gt_masks, gt_areas, mask_size,
                    mask_fg_iou_threshold=0.5, box_fg_iou_threshold=0.5,
                    mask_level_iou_threshold=0.5, mask_binarize_threshold=0.4,
                    box_regression_weights=(10.0, 10.0, 5.0, 5.0),
                    mask_target_threshold=0.5):
  """Targets of a stage-2/3 pair (or 4/5) for its K boxes.

  Stage 2: a box whose best gt has IoU > `mask_fg_iou_threshold` regresses
  that gt's mask cropped to the box.  Stage 3: box-level label = gt class if
  box IoU >= `box_fg_iou_threshold` else background; mask-level label = gt
  class if also the stage-2 mask's IoU with the gt mask >= 
  `mask_level_iou_threshold`; class-wise box regression towards the gt box for
  box-level positives.

  Args:
    boxes: `[B, K, 4]` stage input boxes (constants here).
    sample_valid: bool `[B, K]`, False for padding samples.
    mask_probs: `[B, K, m, m]` stage-2 predictions (constants here).
    gt_boxes: `[B, M, 4]`, padding rows -1.
    gt_valid: bool `[B, M]`.
    gt_class_indices: int32 `[B, M]` contiguous classes 1..N (-1 padding).
    gt_masks: uint8 `[B, M, H, W]`, or per-instance crops
      (`mask_crop_targets.InstanceMaskCrops`).
    gt_areas: `[B, M]` gt mask pixel counts.
    mask_size: m.
    mask_fg_iou_threshold: stage-2 positive box IoU (strictly greater).
    box_fg_iou_threshold: stage-3 box-level positive IoU.
    mask_level_iou_threshold: stage-3 mask-level positive mask IoU.
    mask_binarize_threshold: binarization of predictions for the mask IoU.
    box_regression_weights: delta scaling (wy, wx, wh, ww).
    mask_target_threshold: the gt mask resampled into a box is foreground
      where >= this (the release's `mask_transform.py`: 0.4).

  Returns:
    dict with `mask_targets` `[B, K, m, m]`, `mask_weights` `[B, K]` (1 for
    stage-2 positives), `cls_box_targets` int32 `[B, K]`, `cls_mask_targets`
    int32 `[B, K]`, `box_targets` `[B, K, 4]`, `sample_weights` `[B, K]`,
    `box_iou` `[B, K]` and `mask_iou` `[B, K]`.
  """
  max_iou, gt_index = match_boxes(boxes, gt_boxes, gt_valid)
  if hasattr(gt_masks, 'mask_targets'):  # mask_crop_targets.InstanceMaskCrops
    mask_targets = gt_masks.mask_targets(gt_index, boxes, mask_size,
                                         threshold=mask_target_threshold)
  else:
    mask_targets = crop_mask_targets(gt_masks, gt_index, boxes, mask_size,
                                     threshold=mask_target_threshold)
  matched_area = tf.gather(gt_areas, gt_index, batch_dims=1)
  matched_class = tf.gather(gt_class_indices, gt_index, batch_dims=1)
  matched_box = tf.gather(tf.cast(gt_boxes, tf.float32), gt_index,
                          batch_dims=1)
  ious = mask_iou(mask_probs, mask_targets, boxes, matched_area,
                  mask_binarize_threshold)
  has_gt = tf.reduce_any(gt_valid, axis=-1, keepdims=True)
  mask_pos = sample_valid & has_gt & (max_iou > mask_fg_iou_threshold)
  box_pos = sample_valid & has_gt & (max_iou >= box_fg_iou_threshold)
  mask_level_pos = box_pos & (ious >= mask_level_iou_threshold)
  zeros = tf.zeros_like(matched_class)
  box_targets = box_ops.encode_boxes(matched_box, tf.cast(boxes, tf.float32),
                                     weights=list(box_regression_weights))
  box_targets = tf.where(box_pos[..., None], box_targets,
                         tf.zeros_like(box_targets))
  return {
      'mask_targets': mask_targets,
      'mask_weights': tf.cast(mask_pos, tf.float32),
      'cls_box_targets': tf.where(box_pos, matched_class, zeros),
      'cls_mask_targets': tf.where(mask_level_pos, matched_class, zeros),
      'box_targets': box_targets,
      'sample_weights': tf.cast(sample_valid, tf.float32),
      'box_iou': max_iou,
      'mask_iou': ious,
  }
