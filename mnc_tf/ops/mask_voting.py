# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""MNC inference post-processing (paper §6): per-class NMS, then mask voting.

For one image with K candidates (300 from stage 3 and 300 from stage 5), each a
box, an m x m mask in that box and N class scores:

1. per class c, NMS at box IoU 0.3 on the class-c scores;
2. the kept instances of all classes are ranked by score, the top D kept;
3. mask voting: each kept instance's cluster is every candidate whose box IoU
   with it is >= 0.5 and whose class-c score is above the score threshold (this
   is the instance and the candidates it suppressed; other kept instances
   overlap it by <= 0.3).  The members' masks are averaged pixel-wise in image
   space, weighted by their class-c scores.  The image region of the average is
   the union of the members' boxes, sampled on a V x V grid (V =
   `voting_resolution`), so memory stays D x V x V however large the image;
   binarizing (0.4) happens when the result is pasted into the image
   (`mask_paste.paste_masks`, bilinear).  When the grid cells are the image
   pixels (V = region side) this is exactly pixel-wise voting; with coarser
   cells the vote is exact at the cell centres and the paste interpolates
   between them (edges inside a cluster are smoothed over one cell).

Everything is static-shape TensorFlow (NMS is the stock NonMaxSuppressionV4).
"""

import tensorflow as tf

from mnc_tf.ops import mask_paste
from official.vision.ops import box_ops


def per_class_nms(boxes, scores, iou_threshold, score_threshold,
                  max_per_class):
  """NMS of every class column.

  Args:
    boxes: `[K, 4]` candidate boxes.
    scores: `[K, N]` class scores (background excluded).
    iou_threshold: boxes overlapping a kept box by IoU > this are suppressed.
    score_threshold: only scores > this take part.
    max_per_class: static P.

  Returns:
    indices: int32 `[N, P]` kept candidate indices per class, best first.
    valid: bool `[N, P]`.
  """
  boxes = tf.convert_to_tensor(boxes, tf.float32)

  def nms_one(class_scores):
    indices, num_valid = tf.raw_ops.NonMaxSuppressionV4(
        boxes=boxes, scores=class_scores, max_output_size=max_per_class,
        iou_threshold=iou_threshold, score_threshold=score_threshold,
        pad_to_max_output_size=True)
    indices = tf.reshape(indices, [max_per_class])
    return indices, tf.range(max_per_class) < num_valid

  return tf.map_fn(
      nms_one, tf.transpose(tf.cast(scores, tf.float32)),
      fn_output_signature=(tf.TensorSpec([max_per_class], tf.int32),
                           tf.TensorSpec([max_per_class], tf.bool)))


def select_top_detections(indices, valid, scores, max_detections):
  """The best `max_detections` of the per-class NMS survivors.

  Args:
    indices: int32 `[N, P]` from `per_class_nms`.
    valid: bool `[N, P]`.
    scores: `[K, N]` class scores.
    max_detections: static D.

  Returns:
    det_index: int32 `[D]` candidate index, det_class: int32 `[D]` class
    column (0-based), det_score: `[D]`, det_valid: bool `[D]`; best first,
    padding (invalid) last.
  """
  num_classes = tf.shape(indices)[0]
  per_class = indices.shape[1]
  class_col = tf.tile(tf.range(num_classes)[:, None], [1, per_class])
  kept_scores = tf.gather_nd(
      tf.cast(scores, tf.float32), tf.stack([indices, class_col], axis=-1))
  kept_scores = tf.where(valid, kept_scores, -tf.ones_like(kept_scores))
  flat_scores = tf.reshape(kept_scores, [-1])
  total = tf.size(flat_scores)
  padding = tf.maximum(max_detections - total, 0)
  flat_scores = tf.pad(flat_scores, [[0, padding]], constant_values=-1.0)
  top_scores, top = tf.math.top_k(flat_scores, k=max_detections)
  in_range = top < total
  safe = tf.where(in_range, top, tf.zeros_like(top))
  det_index = tf.gather(tf.reshape(indices, [-1]), safe)
  det_class = tf.gather(tf.reshape(class_col, [-1]), safe)
  det_valid = in_range & tf.gather(tf.reshape(valid, [-1]), safe)
  zero = tf.zeros_like(det_index)
  return (tf.where(det_valid, det_index, zero),
          tf.where(det_valid, det_class, zero),
          tf.where(det_valid, top_scores, tf.zeros_like(top_scores)),
          det_valid)


def vote_masks(det_index, det_class, det_valid, boxes, masks, scores,
               iou_threshold=0.5, score_threshold=0.0, resolution=56,
               max_members=100, use_voting=True):
  """Score-weighted image-space average of each detection's cluster masks.

  Args:
    det_index: int32 `[D]` candidate index of each detection.
    det_class: int32 `[D]` class column of each detection.
    det_valid: bool `[D]`.
    boxes: `[K, 4]` candidate boxes.
    masks: `[K, m, m]` candidate masks (probabilities) in their boxes.
    scores: `[K, N]` class scores.
    iou_threshold: cluster members overlap the detection by IoU >= this.
    score_threshold: members' class scores must be > this.
    resolution: V, the voting grid side.
    max_members: static T; the T highest-weighted members vote.
    use_voting: False keeps each detection's own mask (a 1-member cluster).

  Returns:
    voted: `[D, V, V]` averaged masks in [0, 1] over `regions`.
    regions: `[D, 4]` union box of each cluster (the frame of `voted`).
  """
  boxes = tf.convert_to_tensor(boxes, tf.float32)
  masks = tf.convert_to_tensor(masks, tf.float32)
  scores = tf.convert_to_tensor(scores, tf.float32)
  num_candidates = tf.shape(boxes)[0]
  mask_size = masks.shape[-1]
  det_boxes = tf.gather(boxes, det_index)
  weights = tf.gather(tf.transpose(scores), det_class)            # [D, K]
  is_self = tf.one_hot(det_index, num_candidates, on_value=True,
                       off_value=False)
  if use_voting:
    iou = box_ops.bbox_overlap(det_boxes[None], boxes[None])[0]  # [D, K]
    member = ((iou >= iou_threshold) & (weights > score_threshold)) | is_self
  else:
    member = is_self
  weights = tf.where(member, weights, tf.zeros_like(weights))
  # The detection itself always votes, even with a zero score.
  weights = tf.where(is_self, tf.maximum(weights, 1e-6), weights)
  if boxes.shape[0] is not None:
    max_members = min(max_members, boxes.shape[0])
  weights = tf.pad(weights, [[0, 0], [0, tf.maximum(
      max_members - num_candidates, 0)]])
  top_weights, top_index = tf.math.top_k(weights, k=max_members)
  top_index = tf.minimum(top_index, num_candidates - 1)
  member_boxes = tf.gather(boxes, top_index)                      # [D, T, 4]
  member_masks = tf.gather(masks, top_index)                      # [D, T, m, m]
  voting = top_weights > 0.0
  big = tf.constant(1e9, tf.float32)
  lows = tf.where(voting[..., None], member_boxes[..., :2], big)
  highs = tf.where(voting[..., None], member_boxes[..., 2:], -big)
  region_low = tf.reduce_min(lows, axis=1)                        # [D, 2]
  region_high = tf.reduce_max(highs, axis=1)
  regions = tf.concat([region_low, region_high], axis=-1)
  steps = (tf.range(resolution, dtype=tf.float32) + 0.5) / resolution
  grid = (region_low[..., None] + steps
          * (region_high - region_low)[..., None])                # [D, 2, V]
  rows = mask_paste.interpolation_matrix(
      grid[:, None, 0, :], member_boxes[..., 0], member_boxes[..., 2],
      mask_size)                                                  # [D, T, V, m]
  cols = mask_paste.interpolation_matrix(
      grid[:, None, 1, :], member_boxes[..., 1], member_boxes[..., 3],
      mask_size)
  weighted_rows = rows * top_weights[..., None, None]
  partial = tf.einsum('dtvm,dtmk->dtvk', weighted_rows, member_masks)
  total = tf.einsum('dtvk,dtuk->dvu', partial, cols)
  voted = total / tf.maximum(tf.reduce_sum(top_weights, axis=1),
                             1e-12)[:, None, None]
  valid = tf.cast(det_valid, tf.float32)
  return voted * valid[:, None, None], regions * valid[:, None]


def postprocess_image(boxes, masks, scores, score_threshold=0.01,
                      nms_iou_threshold=0.3, max_detections_per_class=100,
                      max_num_detections=100, use_mask_voting=True,
                      voting_iou_threshold=0.5, voting_resolution=56,
                      max_voting_members=100):
  """Per-class NMS + mask voting + top-D for one image.

  Args:
    boxes: `[K, 4]` candidate boxes (network-input pixels).
    masks: `[K, m, m]` candidate mask probabilities in their boxes.
    scores: `[K, N]` foreground class scores (softmax columns 1..N); invalid
      candidates must have zero scores.
    score_threshold: see `Detection` config.
    nms_iou_threshold: see `Detection` config.
    max_detections_per_class: see `Detection` config.
    max_num_detections: see `Detection` config.
    use_mask_voting: see `Detection` config.
    voting_iou_threshold: see `Detection` config.
    voting_resolution: see `Detection` config.
    max_voting_members: see `Detection` config.

  Returns:
    dict: `num_detections` int32 scalar, `detection_boxes` `[D, 4]`,
    `detection_class_indices` int32 `[D]` (contiguous 1..N),
    `detection_scores` `[D]`, `detection_masks` `[D, V, V]` (soft voted
    masks) and `detection_mask_boxes` `[D, 4]` (their frames); best first,
    zero padded.
  """
  indices, valid = per_class_nms(boxes, scores, nms_iou_threshold,
                                 score_threshold, max_detections_per_class)
  det_index, det_class, det_score, det_valid = select_top_detections(
      indices, valid, scores, max_num_detections)
  voted, regions = vote_masks(
      det_index, det_class, det_valid, boxes, masks, scores,
      iou_threshold=voting_iou_threshold, score_threshold=score_threshold,
      resolution=voting_resolution, max_members=max_voting_members,
      use_voting=use_mask_voting)
  det_boxes = tf.gather(tf.cast(boxes, tf.float32), det_index)
  det_boxes = det_boxes * tf.cast(det_valid, tf.float32)[:, None]
  return {
      'num_detections': tf.reduce_sum(tf.cast(det_valid, tf.int32)),
      'detection_boxes': det_boxes,
      'detection_class_indices': tf.where(det_valid, det_class + 1,
                                          tf.zeros_like(det_class)),
      'detection_scores': det_score,
      'detection_masks': voted,
      'detection_mask_boxes': regions,
  }
