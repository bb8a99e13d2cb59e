# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The gradient through the box coordinates on a feature pyramid, checked.

As `test_box_gradient.py` (float64, the clip set so high that it never binds,
every discrete choice of the cascade held fixed, the mask-level-positives
truncation off) for `MncFpnModel`: random float64 pyramid features (levels
2-5 of a 192 x 192 image), proposals decoded from the RPN deltas of fixed
anchors on levels 2, 3 and 4, and stages 2-5 warping each RoI from the level
its size selects (`MultilevelRoiWarp`, canonical size 80 px: boundaries at
40, 80 and 160 px).  Then the directional derivative of the stage 2-5 loss
w.r.t. the RPN deltas, and of the stage 4-5 loss w.r.t. the stage-3 deltas,
matches float64 central finite differences to 1e-3, and a small step against
the gradient lowers the loss.

The level of a box is a step function of its size: a box whose side is
within a hair of a boundary changes level between the two sides of a finite
difference, and the difference then measures the jump between two feature
maps, not the derivative.  Such boxes are EXCLUDED ON PURPOSE: the checks
perturb only the boxes whose side is at least `LEVEL_MARGIN` (relative) from
every boundary, at stage 2 and at stage 4, and assert that none of them
changes level within the perturbation.  One proposal is placed exactly on the
80 px boundary so that the exclusion is exercised (and a test shows that a
difference across it does change its level).

Mutations tried (each once, the code edited, these tests and
`test_multilevel_roi_warp.py` run, the edit undone):
- every level warped with level 2's spatial scale: the forward reference and
  gradient tests of `test_multilevel_roi_warp.py` fail; the checks here pass
  (the loss stays smooth, only wrong), which is why that file exists;
- `tf.stop_gradient` on the boxes warped from levels 3-5: the four
  finite-difference tests here and the two gradient tests of
  `test_multilevel_roi_warp.py` fail (the descent tests pass: a partial
  gradient still descends);
- the box-gradient clip (`gradients.py`) returning `-clip(dy)`: all eight
  finite-difference and descent tests here fail;
- the exclusion dropped (the boundary proposal's deltas perturbed too): the
  RPN-delta finite-difference and descent tests fail.
"""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from mnc_tf.configs import model as model_cfg
from mnc_tf.losses import mnc_losses
from mnc_tf.modeling import factory
from mnc_tf.modeling.layers import proposals
from mnc_tf.ops import pyramid_levels
from official.vision.ops import box_ops
from tests.modeling import cascade_hooks
from tests.modeling import finite_differences
from tests.modeling.synthetic_example import CLASS_IDS
from tests.modeling.synthetic_example import make_example

SIZE = 192
CHANNELS = 8
CLIP = 1e6          # never binds
EPS = 1e-6
RTOL = 1e-3
NUM_DIRECTIONS = 3
LEVEL_MARGIN = 1e-3  # relative distance of a box side from a level boundary
DESCENT_STEP = 1e-4


def _float64_model(implementation):
  previous = tf_keras.backend.floatx()
  tf_keras.backend.set_floatx('float64')
  try:
    tf_keras.utils.set_random_seed(7)
    config = model_cfg.tiny_pyramid_model_config(
        class_ids=CLASS_IDS, roi_warp_implementation=implementation,
        cascade={'box_gradient_clip': CLIP,
                 'mask_gradient_from_mask_level_positives_only': False})
    return factory.build_mnc_model(config, build=False), config
  finally:
    tf_keras.backend.set_floatx(previous)


class Problem:
  """Fixed pyramid, proposals over levels, samples and targets."""

  def __init__(self, implementation, seed=0):
    rng = np.random.RandomState(seed)
    self.model, config = _float64_model(implementation)
    self.warp_config = config.multilevel_roi_warp
    model = self.model
    example = make_example(SIZE)
    self.gt = model.ground_truth(example['gt_boxes'], example['gt_classes'],
                                 example['gt_masks'])
    self.image_shape = tf.constant([[SIZE, SIZE]], tf.float64)
    self.features = {str(level): tf.constant(rng.randn(
        1, SIZE // 2 ** level, SIZE // 2 ** level, CHANNELS))
                     for level in range(2, 6)}
    images = tf.zeros([1, SIZE, SIZE, 3])
    flat = model._anchors(images).numpy().reshape(-1, 4)  # pylint: disable=protected-access
    sizes = model._anchor_level_sizes(images)  # pylint: disable=protected-access
    anchor_level = np.repeat(model.levels, sizes)
    self.anchors = tf.constant(flat, tf.float64)
    gt_boxes = example['gt_boxes'][0, :2].astype(np.float64)
    inside = np.where((flat.min(axis=1) > 8) & (flat.max(axis=1) < SIZE - 8))[0]
    best = [int(i) for g in range(2)
            for i in inside[np.argsort(-finite_differences.iou(flat[inside], gt_boxes)[:, g])][:3]]
    others = []
    for level in (2, 3, 4):
      pool = [int(i) for i in rng.permutation(inside)
              if anchor_level[i] == level and i not in best]
      others += pool[:2]
    # A square level-3 anchor (64 px) scaled to exactly the 80 px boundary.
    square = [int(i) for i in rng.permutation(inside)
              if anchor_level[i] == 3 and i not in best + others and
              abs((flat[i, 2] - flat[i, 0]) - (flat[i, 3] - flat[i, 1])) < 1e-6]
    self.boundary_row = len(best + others)
    chosen = best + others + square[:1]
    self.anchor_index = tf.constant([chosen], tf.int32)
    deltas = 0.02 * rng.randn(flat.shape[0], 4)
    targets = np.repeat(gt_boxes, 3, axis=0) + rng.uniform(-2, 2, [6, 4])
    deltas[best] = box_ops.encode_boxes(
        tf.constant(targets), tf.constant(flat[best], tf.float64)).numpy()
    deltas[square[0]] = [0.0, 0.0, np.log(80.0 / 64.0), np.log(80.0 / 64.0)]
    self.rpn_deltas = tf.constant(deltas.reshape(1, -1, 4))
    self.valid = tf.ones([1, len(chosen)], tf.bool)
    boxes = self.proposal_boxes(self.rpn_deltas).numpy()[0]
    assert boxes.min() > 1.0 and boxes.max() < SIZE - 1.0, boxes  # no clip
    _, self.fixed = cascade_hooks.train_cascade(
        model, self.features, self.proposal_boxes(self.rpn_deltas),
        self.valid, self.gt, self.image_shape)
    for pair in self.fixed:
      assert float(tf.reduce_sum(pair['targets']['mask_weights'])) > 0
      assert int(tf.reduce_sum(tf.cast(
          pair['targets']['cls_box_targets'] > 0, tf.int32))) > 0

  def proposal_boxes(self, rpn_deltas):
    """The proposals of the fixed anchors, as `MncFpnModel` makes them."""
    deltas = self.model.cascade_head.clip_box_gradient(rpn_deltas)
    boxes = proposals.decode_proposals(deltas, self.anchors, self.image_shape)
    return tf.gather(boxes, self.anchor_index, batch_dims=1)

  def levels(self, boxes):
    cfg = self.warp_config
    return pyramid_levels.assign_levels(
        boxes, cfg.min_level, cfg.max_level, cfg.canonical_level,
        cfg.canonical_size).numpy()[0]

  def near_boundary(self, boxes):
    """bool `[K]`: side within LEVEL_MARGIN (relative) of a level boundary."""
    boxes = np.asarray(boxes)[0]
    side = np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    cfg = self.warp_config
    bounds = [cfg.canonical_size * 2.0 ** (k - cfg.canonical_level)
              for k in range(cfg.min_level + 1, cfg.max_level + 1)]
    return np.array([min(abs(s / b - 1.0) for b in bounds) < LEVEL_MARGIN
                     for s in side])

  def stage4_boxes(self, rpn_deltas):
    boxes = self.proposal_boxes(rpn_deltas)
    _, cls_out = cascade_hooks.run_stage(
        self.model, self.features, boxes, self.valid, self.gt,
        targets=self.fixed[0]['targets'], training=True)
    boxes4, _, _ = cascade_hooks.next_stage_inputs(
        self.model, boxes, self.valid, cls_out, self.gt, self.image_shape,
        top_class=self.fixed[0]['top_class'])
    return boxes4[:, :boxes.shape[1]]

  def excluded_rows(self):
    """Rows whose stage-2 or stage-4 box lies on a level boundary."""
    return (self.near_boundary(self.proposal_boxes(self.rpn_deltas)) |
            self.near_boundary(self.stage4_boxes(self.rpn_deltas)))

  def rpn_delta_loss(self, rpn_deltas):
    """Stages 2-5 loss as a function of the RPN box deltas."""
    return cascade_hooks.held_cascade_loss(
        self.model, self.features, self.proposal_boxes(rpn_deltas),
        self.valid, self.gt, self.image_shape, self.fixed)

  def rpn_support(self):
    """1 on the deltas of the fixed anchors whose boxes stay on one level."""
    support = np.zeros(self.anchors.shape)
    rows = np.where(~self.excluded_rows())[0]
    support[self.anchor_index.numpy()[0, rows]] = 1.0
    return support.reshape(self.rpn_deltas.shape)

  def stage3_problem(self):
    boxes = self.proposal_boxes(self.rpn_deltas)
    _, cls_out = cascade_hooks.run_stage(
        self.model, self.features, boxes, self.valid, self.gt,
        targets=self.fixed[0]['targets'], training=True)
    top_class = self.fixed[0]['top_class'].numpy()
    num_classes = len(CLASS_IDS) + 1
    support = np.zeros([1, top_class.shape[1], num_classes, 4])
    keep = ~self.excluded_rows()
    for k, c in enumerate(top_class[0]):
      support[0, k, c] = float(keep[k])
    support = support.reshape(cls_out['box_outputs'].shape)
    logits = cls_out['cls_mask_logits']

    def loss(box_outputs):
      boxes4, valid4, _ = cascade_hooks.next_stage_inputs(
          self.model, boxes, self.valid,
          {'cls_mask_logits': logits, 'box_outputs': box_outputs},
          self.gt, self.image_shape, top_class=self.fixed[0]['top_class'])
      mask_out, cls_out4 = cascade_hooks.run_stage(
          self.model, self.features, boxes4, valid4, self.gt,
          targets=self.fixed[1]['targets'], training=True)
      return sum(mnc_losses.stage_pair_losses(
          {**mask_out, **cls_out4}).values())

    def stage4(box_outputs):
      boxes4, _, _ = cascade_hooks.next_stage_inputs(
          self.model, boxes, self.valid,
          {'cls_mask_logits': logits, 'box_outputs': box_outputs},
          self.gt, self.image_shape, top_class=self.fixed[0]['top_class'])
      return boxes4[:, :boxes.shape[1]]

    return loss, stage4, tf.identity(cls_out['box_outputs']), support


@pytest.fixture(scope='module', params=['custom', 'tf'])
def problem(request):
  return Problem(request.param)


def _check_directions(fn, x, support, seed, boxes_of, problem):
  """Directional derivatives; the boxes keep their levels on both sides."""
  _, grad = finite_differences.gradient(fn, x)
  for v in finite_differences.random_directions(x, support, seed,
                                                NUM_DIRECTIONS):
    for step in (EPS, EPS / 4, -EPS / 4, -EPS):
      np.testing.assert_array_equal(problem.levels(boxes_of(x + step * v)),
                                    problem.levels(boxes_of(x)))
    finite_differences.check_direction(fn, x, grad, v, EPS, RTOL)


def _check_descent(fn, x, support):
  finite_differences.check_descent(fn, x, support, step=DESCENT_STEP)


def test_the_rois_span_three_levels_and_one_is_excluded(problem):
  boxes = problem.proposal_boxes(problem.rpn_deltas)
  levels = problem.levels(boxes)
  excluded = problem.excluded_rows()
  assert set(levels[~excluded]) >= {2, 3, 4}, levels
  # Only the proposal placed on the 80 px boundary is excluded ...
  assert np.where(excluded)[0].tolist() == [problem.boundary_row]
  # ... and rightly: a difference across it changes its level.
  row = problem.boundary_row
  anchor = int(problem.anchor_index.numpy()[0, row])
  v = np.zeros(problem.rpn_deltas.shape)
  v[0, anchor, 2:] = 1.0
  up = problem.levels(problem.proposal_boxes(problem.rpn_deltas + EPS * v))
  down = problem.levels(problem.proposal_boxes(problem.rpn_deltas - EPS * v))
  assert (down[row], up[row]) == (3, 4)


def test_rpn_delta_gradient_matches_finite_differences(problem):
  def boxes_of(deltas):  # every box entering a warp: stages 2 and 4
    return tf.concat([problem.proposal_boxes(deltas),
                      problem.stage4_boxes(deltas)], axis=1)
  _check_directions(problem.rpn_delta_loss, problem.rpn_deltas,
                    problem.rpn_support(), 1, boxes_of, problem)


def test_step_against_rpn_delta_gradient_lowers_the_loss(problem):
  _check_descent(problem.rpn_delta_loss, problem.rpn_deltas,
                 problem.rpn_support())


def test_stage3_delta_gradient_matches_finite_differences(problem):
  loss, stage4, deltas, support = problem.stage3_problem()
  _check_directions(loss, deltas, support, 2, stage4, problem)


def test_step_against_stage3_delta_gradient_lowers_the_loss(problem):
  loss, _, deltas, support = problem.stage3_problem()
  _check_descent(loss, deltas, support)
