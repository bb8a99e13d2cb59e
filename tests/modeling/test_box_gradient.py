# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The gradient through the box coordinates (paper §4, Eq. 6-9), checked.

A tiny model in float64 (every layer built under a float64 policy; the
custom op has float64 kernels, the pure-TF twin computes in float64), the
clip of `box_gradient_clip` set so high that it never binds (1e6: its code
path runs, its limit does not), and the discrete choices held FIXED, as
Eq. 6-9 treat them: which anchors' boxes are the proposals (chosen once),
the RoI sampling (all of them, none padded), every target of stages 2-5 and
the class whose stage-3 deltas make the stage-4 boxes (assigned once by
`cascade_hooks.train_cascade` and passed back through its `fixed` argument).
The original release's truncation of the stage-3 -> stage-2 mask gradient to
mask-level positives (`cascade.mask_gradient_from_mask_level_positives_only`,
on by default) is switched off here: it drops part of the true gradient on
purpose, so with it on the finite differences disagree by 1e-4 to 1e-2.
Then:

- the directional derivative of the stage 2-5 loss (every term of both stage
  pairs) w.r.t. the RPN box deltas, and of the stage 4-5 loss w.r.t. the
  stage-3 box deltas, along random directions, matches float64 central
  finite differences to a relative error <= 1e-3.  The bilinear kernel, the
  max pool and the ReLUs are piecewise smooth: each check first asserts that
  the finite difference at eps and at eps / 4 agree (no kink within +-eps),
  so a seed that straddled a kink would fail loudly rather than pass by luck
  (the seeds here pass);
- a small step against the gradient lowers that loss by at least half of
  what the gradient predicts (a descent test).

Mutations tried (each run once on all 8 tests, 2026-11-29, by patching the
function in a driver script that then ran this file):
- the clip returning `-clip(dy)` (`mnc_tf/ops/gradients.py`, the box-gradient
  sign flipped): all 8 fail; directional checks with relative error 1.99-2.0
  (e.g. analytic 0.0183 vs numeric -0.0184 for the RPN deltas, -0.00278 vs
  0.00278 for the stage-3 deltas), descent steps that raise the loss
  (5.84586 -> 5.84588);
- `tf.stop_gradient` on every box entering the RoI warp (`MncModel.
  _maybe_stop` always stopping): all 8 fail; analytic derivatives 0 against
  numeric 0.0737 / -0.00033 / 0.0033 (relative error 1.0), descent tests
  see a zero gradient.
"""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from mnc_tf.configs import model as model_cfg
from mnc_tf.losses import mnc_losses
from mnc_tf.modeling import factory
from mnc_tf.modeling.layers import proposals
from mnc_tf.ops import box_utils
from official.vision.ops import box_ops
from tests.modeling import cascade_hooks
from tests.modeling import finite_differences
from tests.modeling.synthetic_example import CLASS_IDS
from tests.modeling.synthetic_example import make_example

SIZE = 128
CLIP = 1e6          # never binds: the box-gradient clip is effectively off
EPS = 1e-6
RTOL = 1e-3
NUM_DIRECTIONS = 3


def _float64_model(implementation):
  previous = tf_keras.backend.floatx()
  tf_keras.backend.set_floatx('float64')
  try:
    tf_keras.utils.set_random_seed(7)  # Python, NumPy and TF: tf_keras draws
    # unseeded initializer seeds from Python's `random`, which other tests move.
    config = model_cfg.tiny_model_config(
        class_ids=CLASS_IDS, roi_warp_implementation=implementation,
        cascade={'box_gradient_clip': CLIP,
                 'mask_gradient_from_mask_level_positives_only': False})
    return factory.build_mnc_model(config, build=False)
  finally:
    tf_keras.backend.set_floatx(previous)


class Problem:
  """Fixed features, proposals, samples and targets of one tiny image."""

  def __init__(self, implementation, seed=0):
    rng = np.random.RandomState(seed)
    self.model = model = _float64_model(implementation)
    example = make_example(SIZE)
    self.gt = model.ground_truth(example['gt_boxes'], example['gt_classes'],
                                 example['gt_masks'])
    self.image_shape = tf.constant([[SIZE, SIZE]], tf.float64)
    self.features = tf.constant(rng.randn(1, SIZE // 16, SIZE // 16, 16))
    anchors = box_utils.generate_anchors(SIZE, SIZE, 16, [24.0, 48.0],
                                         [0.5, 1.0, 2.0]).numpy()
    self.anchors = tf.constant(anchors.reshape(-1, 4), tf.float64)
    flat = anchors.reshape(-1, 4)
    gt_boxes = example['gt_boxes'][0, :2].astype(np.float64)
    inside = np.where((flat.min(axis=1) > 8) & (flat.max(axis=1) < SIZE - 8))[0]
    best = [int(i) for g in range(2)
            for i in inside[np.argsort(-finite_differences.iou(flat[inside], gt_boxes)[:, g])][:3]]
    others = [int(i) for i in rng.permutation(inside) if i not in best][:4]
    self.anchor_index = tf.constant([best + others], tf.int32)
    # Deltas: small noise; the gt anchors regress close to (jittered) gt
    # boxes so stages 2-5 have positives.
    deltas = 0.02 * rng.randn(flat.shape[0], 4)
    targets = np.repeat(gt_boxes, 3, axis=0) + rng.uniform(-2, 2, [6, 4])
    deltas[best] = box_ops.encode_boxes(
        tf.constant(targets), tf.constant(flat[best], tf.float64)).numpy()
    self.rpn_deltas = tf.constant(deltas.reshape(1, *anchors.shape))
    self.valid = tf.ones([1, len(best + others)], tf.bool)
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
    """The proposals of the fixed anchors, as `MncModel` makes them."""
    deltas = self.model.cascade_head.clip_box_gradient(
        tf.reshape(rpn_deltas, [1, -1, 4]))
    boxes = proposals.decode_proposals(deltas, self.anchors, self.image_shape)
    return tf.gather(boxes, self.anchor_index, batch_dims=1)

  def rpn_delta_loss(self, rpn_deltas):
    """Stages 2-5 loss as a function of the RPN box deltas."""
    return cascade_hooks.held_cascade_loss(
        self.model, self.features, self.proposal_boxes(rpn_deltas),
        self.valid, self.gt, self.image_shape, self.fixed)

  def stage3_outputs(self):
    boxes = self.proposal_boxes(self.rpn_deltas)
    _, cls_out = cascade_hooks.run_stage(
        self.model, self.features, boxes, self.valid, self.gt,
        targets=self.fixed[0]['targets'], training=True)
    return boxes, cls_out

  def stage3_delta_loss(self, box_outputs, boxes, cls_mask_logits):
    """Stages 4-5 loss as a function of the stage-3 box deltas."""
    boxes4, valid4, _ = cascade_hooks.next_stage_inputs(
        self.model, boxes, self.valid,
        {'cls_mask_logits': cls_mask_logits, 'box_outputs': box_outputs},
        self.gt, self.image_shape, top_class=self.fixed[0]['top_class'])
    mask_out, cls_out = cascade_hooks.run_stage(
        self.model, self.features, boxes4, valid4, self.gt,
        targets=self.fixed[1]['targets'], training=True)
    terms = mnc_losses.stage_pair_losses({**mask_out, **cls_out})
    return sum(terms.values())


@pytest.fixture(scope='module', params=['custom', 'tf'])
def problem(request):
  return Problem(request.param)


def _check_directions(fn, x, support, seed):
  """Directional derivatives along random directions within `support`."""
  _, grad = finite_differences.gradient(fn, x)
  for v in finite_differences.random_directions(x, support, seed,
                                                NUM_DIRECTIONS):
    finite_differences.check_direction(fn, x, grad, v, EPS, RTOL)


def _check_descent(fn, x, support):
  finite_differences.check_descent(fn, x, support)


def _rpn_support(problem):
  support = np.zeros(problem.anchors.shape)
  support[problem.anchor_index.numpy()[0]] = 1.0
  return support.reshape(problem.rpn_deltas.shape)


def test_rpn_delta_gradient_matches_finite_differences(problem):
  _check_directions(problem.rpn_delta_loss, problem.rpn_deltas,
                    _rpn_support(problem), seed=1)


def test_step_against_rpn_delta_gradient_lowers_the_loss(problem):
  _check_descent(problem.rpn_delta_loss, problem.rpn_deltas,
                 _rpn_support(problem))


def _stage3_problem(problem):
  boxes, cls_out = problem.stage3_outputs()
  top_class = problem.fixed[0]['top_class'].numpy()
  num_classes = len(CLASS_IDS) + 1
  support = np.zeros([1, top_class.shape[1], num_classes, 4])
  for k, c in enumerate(top_class[0]):
    support[0, k, c] = 1.0
  support = support.reshape(cls_out['box_outputs'].shape)
  fn = lambda d: problem.stage3_delta_loss(d, boxes,
                                           cls_out['cls_mask_logits'])
  return fn, tf.identity(cls_out['box_outputs']), support


def test_stage3_delta_gradient_matches_finite_differences(problem):
  fn, deltas, support = _stage3_problem(problem)
  _check_directions(fn, deltas, support, seed=2)


def test_step_against_stage3_delta_gradient_lowers_the_loss(problem):
  fn, deltas, support = _stage3_problem(problem)
  _check_descent(fn, deltas, support)
