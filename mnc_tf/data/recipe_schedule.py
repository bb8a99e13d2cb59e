# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Training steps written from the data: a wall-time budget over the input size.

A step of the demo's model (`mnc_shapes_demo`: stride-16 tiny backbone,
small heads, batch 2) costs a fixed part (heads, proposals, optimizer) plus
a part proportional to the padded input pixels.  `DEMO_STEP_COST` holds the
two, fitted to two training runs of written configurations on an otherwise
idle 2-vCPU machine (AMD EPYC): 176 x 288 inputs at 30.3 ms per step (the
`large` family), 592 x 640 at 159.5 ms (`crowded`).  The same model at
output stride 8 or 4 costs a measured ratio more per step
(`DEMO_STEP_COSTS`).  `budget_steps` turns a wall-time budget into a
step count, so that small images and coarse maps get many cheap steps,
large ones and fine maps fewer: training costs about the same minutes on
any set.
"""

import dataclasses
import math

# Seconds of training the written schedule aims at (start-up not counted).
# On `mixed`'s held-back images 12 minutes (5000 steps at stride 8) beat 8
# (3300): mask AP50 0.611 against 0.571, AR@100 0.510 against 0.476; with
# the idle step costs below, 12 minutes write 6700 steps there: 0.621.
DEFAULT_TRAIN_SECONDS = 720.0
# Steps are rounded down to this and kept within [MIN_STEPS, MAX_STEPS].
STEP_ROUNDING = 100
MIN_STEPS = 1000
MAX_STEPS = 10000


@dataclasses.dataclass(frozen=True)
class StepCost:
  """Seconds per training step: `fixed` + `per_pixel` x padded input pixels."""
  fixed: float
  per_pixel: float

  def seconds(self, pixels):
    return self.fixed + self.per_pixel * pixels


# mnc_shapes_demo (batch 2), idle machine: 30.3 ms at 176 x 288 (10000 steps
# of `large`), 159.5 ms at 592 x 640 (3600 steps of `crowded`), read from
# the checkpoint times.  (An earlier fit under the load of other trainings,
# 35.9 ms + 0.424 us per pixel, planned 12 minutes that took 6-10 alone.)
DEMO_STEP_COST = StepCost(fixed=0.0103, per_pixel=3.94e-7)
# The same model at output stride 8 and 4 (the pre-NMS counts x4 and x16,
# as `recipe_config` writes them) costs a measured ratio of the stride-16
# step, read from training runs of written configurations on the idle
# machine: stride 8, 288 x 528 (`mixed`): 106 ms against the 70.2 ms the
# stride-16 cost gives (1.51); stride 4, 464 x 640 (`tiny`): 320 ms against
# 127.3 ms (2.52).  `python -m mnc_tf.benchmarks.stride_step_cost` measures
# the ratios with the three models taking turns in one process (on a shared
# machine, load 3-8: medians 1.42 and 3.1).  Later idle runs took 80 ms at
# 288 x 528 and 205 ms at 592 x 640 at stride 8 (the plan 15-25 % high), 324
# ms for `tiny` at stride 4; the higher stride-8 cost is kept as a margin
# for the 15-minute target.
STRIDE_8_RATIO = 1.51
STRIDE_4_RATIO = 2.52
# {output stride: StepCost} of the demo's model: the stride-16 fit, scaled.
DEMO_STEP_COSTS = {
    16: DEMO_STEP_COST,
    8: StepCost(fixed=DEMO_STEP_COST.fixed * STRIDE_8_RATIO,
                per_pixel=DEMO_STEP_COST.per_pixel * STRIDE_8_RATIO),
    4: StepCost(fixed=DEMO_STEP_COST.fixed * STRIDE_4_RATIO,
                per_pixel=DEMO_STEP_COST.per_pixel * STRIDE_4_RATIO),
}


def budget_steps(scale, max_size, train_seconds=DEFAULT_TRAIN_SECONDS,
                 cost=DEMO_STEP_COST):
  """The step count that fills `train_seconds` at input `scale` x `max_size`.

  Args:
    scale: shorter side of the resized input (px).
    max_size: longer side cap (px); `scale * max_size` bounds the padded
      input of either orientation.
    train_seconds: the wall-time budget.
    cost: a `StepCost`.

  Returns:
    int, a multiple of `STEP_ROUNDING` in [MIN_STEPS, MAX_STEPS].

  Raises:
    ValueError: a non-positive budget or input side.
  """
  if train_seconds <= 0 or scale <= 0 or max_size <= 0:
    raise ValueError('budget_steps needs a positive budget and input size, '
                     'got train_seconds=%r scale=%r max_size=%r'
                     % (train_seconds, scale, max_size))
  steps = train_seconds / cost.seconds(float(scale) * float(max_size))
  steps = int(math.floor(steps / STEP_ROUNDING)) * STEP_ROUNDING
  return min(MAX_STEPS, max(MIN_STEPS, steps))


def schedule_settings(trainer, steps, reason):
  """(dotted key, value, reason) of the trainer for `steps` steps.

  Args:
    trainer: the experiment's `trainer` config (its learning rate is
      stepwise or cosine).
    steps: the step count.
    reason: why `steps` (the train_steps comment).

  Returns:
    list of settings: the steps, one evaluation at the end, four
    checkpoints, and the decay moved with the steps (stepwise boundaries in
    proportion, the cosine decay over all steps).
  """
  settings = [
      ('trainer.train_steps', steps, reason),
      ('trainer.validation_interval', steps, 'one evaluation, at the end'),
      ('trainer.checkpoint_interval', min(steps, max(
          STEP_ROUNDING, steps // (4 * STEP_ROUNDING) * STEP_ROUNDING)),
       'about four checkpoints in the run'),
  ]
  rate = trainer.optimizer_config.learning_rate
  if rate.type == 'stepwise':
    ratio = float(steps) / float(trainer.train_steps)
    boundaries = [int(round(b * ratio)) for b in rate.stepwise.boundaries]
    settings.append(
        ('trainer.optimizer_config.learning_rate.stepwise.boundaries',
         boundaries, 'the experiment\'s boundaries x %d / %d steps'
         % (steps, trainer.train_steps)))
  elif rate.type == 'cosine':
    settings.append(
        ('trainer.optimizer_config.learning_rate.cosine.decay_steps', steps,
         'the cosine decay ends with the training'))
  return settings
