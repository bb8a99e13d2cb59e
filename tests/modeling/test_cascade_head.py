# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""`CascadeHead` and `TestTimeAugmentation`: configs, factory wiring, errors.

Their numbers are checked end to end by `test_model_fixtures.py` (losses,
gradients, detections), `test_box_gradient.py` and the test-time tests.
"""
import pytest

from mnc_tf.configs import model as model_cfg
from mnc_tf.modeling import factory
from mnc_tf.modeling import test_time_augmentation as tta_lib
from mnc_tf.modeling.heads import cascade_head
from tests.modeling.synthetic_example import CLASS_IDS


def _config(**overrides):
  return model_cfg.tiny_model_config(class_ids=CLASS_IDS, **overrides)


def test_factory_passes_the_cascade_fields_to_the_head():
  head = factory.build_cascade_head(_config(cascade={
      'num_train_stages': 3, 'box_gradient': False,
      'box_gradient_clip': 0.25, 'stage4_gt_boxes': False,
      'mask_gradient_from_mask_level_positives_only': False}))
  got = head.get_config()
  assert (got['num_train_stages'], got['num_inference_stages']) == (3, 5)
  assert not got['box_gradient'] and got['box_gradient_clip'] == 0.25
  assert not got['stage4_gt_boxes']
  assert not got['mask_gradient_from_mask_level_positives_only']
  assert got['num_classes'] == len(CLASS_IDS) + 1
  clone = cascade_head.CascadeHead.from_config(got)
  assert clone.get_config() == got
  assert clone.mask_head is head.mask_head


def test_model_shares_the_head_layers():
  model = factory.build_mnc_model(_config(), build=False)
  head = model.cascade_head
  assert model.mask_head is head.mask_head
  assert model.classifier_head is head.classifier_head
  assert model.roi_warp is head.roi_warp
  assert model.cascade_target_assigner is head.cascade_target_assigner


@pytest.mark.parametrize('name', ['num_train_stages', 'num_inference_stages'])
def test_stage_count_is_checked(name):
  head = factory.build_cascade_head(_config())
  config = dict(head.get_config(), **{name: 4})
  with pytest.raises(ValueError, match=f'{name} must be 3 or 5'):
    cascade_head.CascadeHead.from_config(config)


def test_test_time_augmentation_config_round_trip():
  model = factory.build_mnc_model(_config(cascade={
      'test_horizontal_flip': True, 'test_extra_scales': [0.5, 2]}),
                                  build=False)
  got = model.test_time_augmentation.get_config()
  assert got['horizontal_flip'] and got['extra_scales'] == [0.5, 2.0]
  clone = tta_lib.TestTimeAugmentation.from_config(got)
  assert clone.get_config() == got
