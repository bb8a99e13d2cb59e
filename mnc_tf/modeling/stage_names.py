# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The cascade's stage numbering and the `stage{n}_` names, in one place.

Stage 1 is the RPN; stages 2 and 3 are the first mask / classifier pair and
stages 4 and 5 the second (same weights, stage-3 boxes).  The model, the
losses and the training task all name their tensors and loss terms through
this module (detectron2's `CascadeROIHeads` appends "_stage{k}" to the
unprefixed names its `_run_stage` returns in the same way).
"""

from typing import Dict, List, Tuple

RPN_STAGE = 1
# Loss terms reported by `mnc_losses.compute_losses`, per kind of stage.
RPN_LOSS_TERMS = ('rpn_score', 'rpn_box')
MASK_LOSS_TERMS = ('mask',)
CLASSIFIER_LOSS_TERMS = ('cls_mask', 'cls_box', 'box')
STAGE_LOSS = 'loss'


def check_num_stages(name: str, value: int) -> int:
  """Returns `value` if it is 3 or 5, else raises naming `name`."""
  if value not in (3, 5):
    raise ValueError(f'{name} must be 3 or 5, got {value}.')
  return value


def stage_pairs(num_stages: int) -> List[Tuple[int, int]]:
  """(mask stage, classifier stage) pairs of a 3- or 5-stage cascade.

  Args:
    num_stages: 3 or 5.

  Returns:
    `[(2, 3)]` or `[(2, 3), (4, 5)]`.
  """
  check_num_stages('num_stages', num_stages)
  return [(2, 3)] + ([(4, 5)] if num_stages == 5 else [])


def stage_key(name: str, stage: int) -> str:
  """`stage_key('mask', 2)` -> 'stage2_mask'."""
  return f'stage{stage}_{name}'


def prefixed(values: Dict[str, object], stage: int) -> Dict[str, object]:
  """The dict with every key named for `stage` (see `stage_key`)."""
  return {stage_key(name, stage): value for name, value in values.items()}


def loss_names(num_stages: int) -> List[str]:
  """Every per-stage loss name `compute_losses` reports, stage by stage."""
  names = [stage_key(t, RPN_STAGE) for t in RPN_LOSS_TERMS]
  names.append(stage_key(STAGE_LOSS, RPN_STAGE))
  for mask_stage, cls_stage in stage_pairs(num_stages):
    names += [stage_key(t, mask_stage) for t in MASK_LOSS_TERMS]
    names.append(stage_key(STAGE_LOSS, mask_stage))
    names += [stage_key(t, cls_stage) for t in CLASSIFIER_LOSS_TERMS]
    names.append(stage_key(STAGE_LOSS, cls_stage))
  return names
