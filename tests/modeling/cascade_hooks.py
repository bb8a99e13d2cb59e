# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Tests' access to the cascade head's private steps (held targets, classes).

A gradient check holds the discrete choices of the cascade fixed (paper
Eq. 6-9 treat them as constants); the public `CascadeHead.train` /
`CascadeHead.infer` do not take them, so the tests reach the private steps
through these functions.
"""
# pylint: disable=protected-access
from mnc_tf.losses import mnc_losses
from mnc_tf.modeling import stage_names


def train_cascade(model, features, boxes, sample_valid, gt, image_shape,
                  fixed=None, clip=None):
  """`CascadeHead.train`, also returning the targets and classes it used.

  Returns:
    outputs: the `stage{s}_*` dict of `CascadeHead.train`.
    used: one {`targets`, `top_class`} dict per stage pair; passed back as
      `fixed`, they replace the assignment on the next call.
  """
  return model.cascade_head._train(features, boxes, sample_valid, gt,
                                   image_shape, fixed=fixed, clip=clip)


def run_stage(model, features, boxes, sample_valid=None, gt=None,
              targets=None, training=None):
  """One stage pair (`CascadeHead._run_stage`), targets optionally held."""
  return model.cascade_head._run_stage(features, boxes, sample_valid, gt,
                                       targets=targets, training=training)


def next_stage_inputs(model, boxes, sample_valid, classifier_outputs, gt,
                      image_shape, top_class=None):
  """The stage-4 RoIs (`CascadeHead._next_stage_inputs`), class held."""
  return model.cascade_head._next_stage_inputs(
      boxes, sample_valid, classifier_outputs, gt, image_shape,
      top_class=top_class)


def held_cascade_loss(model, features, boxes, sample_valid, gt, image_shape,
                      fixed, num_stages=5):
  """The unweighted stage 2-5 loss (every term) with `fixed` held.

  `fixed`: the `used` list of an earlier `train_cascade` call.
  """
  outputs, _ = train_cascade(model, features, boxes, sample_valid, gt,
                             image_shape, fixed=fixed)
  total = 0.0
  for mask_stage, cls_stage in stage_names.stage_pairs(num_stages):
    terms = mnc_losses.stage_pair_losses(
        mnc_losses.stage_outputs(outputs, mask_stage, cls_stage))
    total += sum(terms.values())
  return total
