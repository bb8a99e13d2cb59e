# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The one place that numbers the cascade's stages and names their tensors."""
import pytest

from mnc_tf.modeling import stage_names
from mnc_tf.tasks import mnc_task


def test_stage_pairs_and_keys():
  assert stage_names.stage_pairs(3) == [(2, 3)]
  assert stage_names.stage_pairs(5) == [(2, 3), (4, 5)]
  assert stage_names.stage_key('mask', 4) == 'stage4_mask'
  assert stage_names.prefixed({'a': 1, 'b': 2}, 5) == {'stage5_a': 1,
                                                       'stage5_b': 2}
  with pytest.raises(ValueError, match='num_train_stages must be 3 or 5'):
    stage_names.check_num_stages('num_train_stages', 4)


def test_loss_names_of_three_and_five_stages():
  assert stage_names.loss_names(3) == [
      'stage1_rpn_score', 'stage1_rpn_box', 'stage1_loss', 'stage2_mask',
      'stage2_loss', 'stage3_cls_mask', 'stage3_cls_box', 'stage3_box',
      'stage3_loss']
  five = stage_names.loss_names(5)
  assert five[:9] == stage_names.loss_names(3)
  assert five[9:] == ['stage4_mask', 'stage4_loss', 'stage5_cls_mask',
                      'stage5_cls_box', 'stage5_box', 'stage5_loss']
  # The task logs exactly these plus its own three.
  assert mnc_task.loss_names(5) == ['total_loss', 'model_loss',
                                    'l2_loss'] + five
