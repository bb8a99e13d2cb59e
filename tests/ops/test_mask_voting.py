# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Per-class NMS and mask voting: hand-computed cases and a NumPy reference."""
import numpy as np
import tensorflow as tf

from mnc_tf.ops import mask_paste
from mnc_tf.ops import mask_voting


def hand_made_candidates():
  """Candidates of two classes; boxes (ymin, xmin, ymax, xmax), 4x4 masks."""
  boxes = np.array([
      [0, 0, 40, 40],     # A: class 0, score 0.9, mask 1.0
      [0, 0, 48, 48],     # B: class 0, 0.3, mask 0.5; IoU(A, B) = 0.694
      [0, 0, 40, 20],     # D: class 0, 0.2, mask 1.0; IoU(A, D) = 0.5
      [60, 60, 80, 80],   # C: class 1, 0.8, mask 1.0
      [90, 0, 99, 9],     # E: class 0, 0.005 (below the score threshold)
  ], np.float32)
  masks = np.ones([5, 4, 4], np.float32)
  masks[1] = 0.5
  scores = np.array([[0.9, 0.0], [0.3, 0.0], [0.2, 0.0], [0.0, 0.8],
                     [0.005, 0.0]], np.float32)
  return boxes, masks, scores


def test_mask_voting_hand_computed():
  boxes, masks, scores = hand_made_candidates()
  out = mask_voting.postprocess_image(
      boxes, masks, scores, score_threshold=0.01, nms_iou_threshold=0.3,
      max_detections_per_class=5, max_num_detections=4,
      voting_iou_threshold=0.5, voting_resolution=48, max_voting_members=5)
  out = {k: v.numpy() for k, v in out.items()}
  # B and D are suppressed by A (IoU 0.69, 0.5 > 0.3); E is below threshold.
  assert out['num_detections'] == 2
  np.testing.assert_array_equal(out['detection_class_indices'], [1, 2, 0, 0])
  np.testing.assert_allclose(out['detection_scores'], [0.9, 0.8, 0, 0],
                             rtol=1e-6)
  np.testing.assert_allclose(out['detection_boxes'][:2], boxes[[0, 3]])
  # A's cluster is {A, B, D}: its region is their union, 48 x 48 pixels; with
  # a 48 x 48 grid the cells are the image pixels, so this is exact
  # pixel-wise voting.
  np.testing.assert_allclose(out['detection_mask_boxes'][0], [0, 0, 48, 48])
  total = 0.9 + 0.3 + 0.2
  want = np.full([48, 48], 0.3 * 0.5 / total)           # B only: 0.107
  want[:40, :40] = (0.9 + 0.3 * 0.5) / total              # A and B: 0.75
  want[:40, :20] = (0.9 + 0.3 * 0.5 + 0.2) / total        # A, B, D: 0.89
  np.testing.assert_allclose(out['detection_masks'][0], want, rtol=1e-5)
  # C votes alone over its own box.
  np.testing.assert_allclose(out['detection_mask_boxes'][1], boxes[3])
  np.testing.assert_allclose(out['detection_masks'][1], np.ones([48, 48]),
                             rtol=1e-6)
  np.testing.assert_array_equal(out['detection_masks'][2:], 0.0)

  # Pasted and binarized at 0.4 into a 100 x 100 image (scale 1).
  info = tf.constant([[[100, 100], [100, 100], [1, 1], [0, 0]]], tf.float32)
  batched = {k: tf.constant(v)[None] for k, v in out.items()}
  batched['detection_classes'] = batched.pop('detection_class_indices')
  full = mask_paste.original_image_detections(batched, info)['detection_masks']
  full = full.numpy()
  want_a = np.zeros([100, 100], np.uint8)
  want_a[:40, :40] = 1        # 0.75 and 0.89 stay, B-only 0.107 goes
  want_c = np.zeros([100, 100], np.uint8)
  want_c[60:80, 60:80] = 1
  np.testing.assert_array_equal(full[0], want_a)
  np.testing.assert_array_equal(full[1], want_c)
  np.testing.assert_array_equal(full[2:], 0)


def test_mask_voting_off_keeps_each_detections_own_mask():
  boxes, masks, scores = hand_made_candidates()
  out = mask_voting.postprocess_image(
      boxes, masks, scores, max_detections_per_class=5, max_num_detections=2,
      use_mask_voting=False, voting_resolution=8, max_voting_members=5)
  np.testing.assert_allclose(out['detection_mask_boxes'].numpy(),
                             boxes[[0, 3]])
  np.testing.assert_allclose(out['detection_masks'].numpy(),
                             np.ones([2, 8, 8]), rtol=1e-6)


def np_nms(boxes, scores, iou_threshold, score_threshold):
  order = [i for i in np.argsort(-scores, kind='stable')
           if scores[i] > score_threshold]
  keep = []
  for i in order:
    if all(np_iou(boxes[i], boxes[j]) <= iou_threshold for j in keep):
      keep.append(i)
  return keep


def np_iou(a, b):
  ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
  iw = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
  inter = ih * iw
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
                  - inter)


def np_read(mask, box, y, x):
  """Image-space value of a box-relative mask at point (y, x)."""
  m = mask.shape[0]
  if not (box[0] <= y < box[2] and box[1] <= x < box[3]):
    return 0.0
  ty = np.clip((y - box[0]) / (box[2] - box[0]) * m - 0.5, 0, m - 1)
  tx = np.clip((x - box[1]) / (box[3] - box[1]) * m - 0.5, 0, m - 1)
  y0, x0 = int(np.floor(ty)), int(np.floor(tx))
  y1, x1 = min(y0 + 1, m - 1), min(x0 + 1, m - 1)
  fy, fx = ty - y0, tx - x0
  return ((1 - fy) * (1 - fx) * mask[y0, x0] + (1 - fy) * fx * mask[y0, x1]
          + fy * (1 - fx) * mask[y1, x0] + fy * fx * mask[y1, x1])


def test_postprocess_matches_numpy_reference():
  rng = np.random.RandomState(7)
  k, n, m, v = 24, 3, 7, 16
  centres = rng.uniform(20, 80, size=[k, 2])
  sizes = rng.uniform(15, 40, size=[k, 2])
  boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2],
                         axis=1).astype(np.float32)
  masks = rng.uniform(0, 1, size=[k, m, m]).astype(np.float32)
  scores = rng.dirichlet(np.ones(n + 1), size=k)[:, 1:].astype(np.float32)
  out = mask_voting.postprocess_image(
      boxes, masks, scores, score_threshold=0.05, nms_iou_threshold=0.3,
      max_detections_per_class=k, max_num_detections=10,
      voting_iou_threshold=0.5, voting_resolution=v, max_voting_members=k)
  out = {key: val.numpy() for key, val in out.items()}

  kept = [(scores[i, c], i, c) for c in range(n)
          for i in np_nms(boxes, scores[:, c], 0.3, 0.05)]
  kept.sort(key=lambda t: -t[0])
  kept = kept[:10]
  assert out['num_detections'] == len(kept)
  for d, (score, i, c) in enumerate(kept):
    assert out['detection_class_indices'][d] == c + 1
    np.testing.assert_allclose(out['detection_scores'][d], score, rtol=1e-6)
    np.testing.assert_allclose(out['detection_boxes'][d], boxes[i])
    members = [j for j in range(k) if j == i or (
        np_iou(boxes[i], boxes[j]) >= 0.5 and scores[j, c] > 0.05)]
    region = np.concatenate([boxes[members, :2].min(0),
                             boxes[members, 2:].max(0)])
    np.testing.assert_allclose(out['detection_mask_boxes'][d], region,
                               rtol=1e-6)
    ys = region[0] + (np.arange(v) + 0.5) * (region[2] - region[0]) / v
    xs = region[1] + (np.arange(v) + 0.5) * (region[3] - region[1]) / v
    weights = np.array([scores[j, c] for j in members])
    want = np.array([[sum(w * np_read(masks[j], boxes[j], y, x)
                          for w, j in zip(weights, members)) / weights.sum()
                      for x in xs] for y in ys])
    np.testing.assert_allclose(out['detection_masks'][d], want, atol=2e-5,
                               err_msg=f'detection {d}')


def test_max_voting_members_keeps_the_highest_weights():
  boxes = np.array([[0, 0, 10, 10]] * 3, np.float32)
  masks = np.stack([np.full([2, 2], v, np.float32) for v in (1.0, 0.0, 0.5)])
  scores = np.array([[0.6], [0.1], [0.3]], np.float32)
  out = mask_voting.postprocess_image(
      boxes, masks, scores, max_detections_per_class=3, max_num_detections=1,
      voting_resolution=2, max_voting_members=2)
  # Members 0 (0.6) and 2 (0.3) vote; member 1 (0.1) is dropped.
  np.testing.assert_allclose(out['detection_masks'].numpy()[0],
                             np.full([2, 2], (0.6 + 0.3 * 0.5) / 0.9),
                             rtol=1e-6)
