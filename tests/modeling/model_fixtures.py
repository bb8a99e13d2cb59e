# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Reference numbers of the model that later code must reproduce.

`python -m tests.modeling.model_fixtures` writes two JSON files under
`tests/modeling/fixtures/` (kept in git):

* `checkpoint_keys.json`: per registered experiment, every variable's
  checkpoint key and shape (`tf.train.list_variables` of a saved
  `tf.train.Checkpoint(model=...)`), so a refactor that would orphan a saved
  checkpoint's variables is caught.
* `fixed_weights.json`: on the tiny model with seeded weights and one fixed
  synthetic image, the training losses, a few gradient norms, and the
  inference outputs with and without test-time augmentation.

The tests in `test_model_fixtures.py` recompute the same numbers with the
same functions and compare.
"""
import json
import os
import tempfile

from absl import app
import numpy as np
import tensorflow as tf
import tf_keras

from mnc_tf.configs import model as model_cfg
from mnc_tf.losses import mnc_losses
from mnc_tf.modeling import factory
from official.core import exp_factory
from tests.modeling.synthetic_example import CLASS_IDS
from tests.modeling.synthetic_example import make_example

# Registers the experiments.
import mnc_tf.configs.mnc_experiments  # pylint: disable=unused-import,g-bad-import-order,g-import-not-at-top

FIXTURE_DIR = os.path.join(os.path.dirname(__file__), 'fixtures')
CHECKPOINT_KEYS = os.path.join(FIXTURE_DIR, 'checkpoint_keys.json')
FIXED_WEIGHTS = os.path.join(FIXTURE_DIR, 'fixed_weights.json')
EXPERIMENTS = ('mnc_shapes_demo', 'mnc_custom_data', 'mnc_vgg16_voc',
               'mnc_resnet50_coco', 'mnc_resnet101_coco')
SMALL_EXPERIMENTS = ('mnc_shapes_demo', 'mnc_custom_data')
# Gradient norms recorded per group of variables (checkpoint-key prefixes of
# `model.<attribute>`); `rpn_box` and `stage3_box` receive the box gradient.
GRADIENT_GROUPS = ('backbone', 'rpn_head', 'mask_head', 'classifier_head')


def checkpoint_keys(model):
  """{checkpoint key: shape} of the model's variables (the save path)."""
  with tempfile.TemporaryDirectory() as tmp:
    path = tf.train.Checkpoint(model=model).write(os.path.join(tmp, 'ckpt'))
    return {name: list(shape) for name, shape in tf.train.list_variables(path)
            if name.startswith('model/')}


def experiment_checkpoint_keys(name):
  config = exp_factory.get_exp_config(name).task.model
  config.init_checkpoint = ''
  tf_keras.backend.clear_session()
  return checkpoint_keys(factory.build_mnc_model(config))


def tiny_model(**overrides):
  """The tiny 5-stage model with seeded weights (`tf_keras` seeds)."""
  tf_keras.utils.set_random_seed(11)
  return factory.build_mnc_model(
      model_cfg.tiny_model_config(class_ids=CLASS_IDS, **overrides))


def _norm(grads):
  return float(tf.linalg.global_norm([g for g in grads if g is not None]))


def fixed_weight_numbers():
  """Losses, gradient norms and inference outputs of the seeded tiny model."""
  model = tiny_model()
  example = make_example()
  numbers = {'weight_sums': {
      v.name: float(tf.reduce_sum(tf.abs(v))) for v in model.weights}}
  tf.random.set_seed(5)  # the RoI sampler's draws
  counts = tf.zeros([2, 2])
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(counts)
    outputs = model(example['images'], example['image_info'],
                    gt_boxes=example['gt_boxes'],
                    gt_classes=example['gt_classes'],
                    gt_masks=example['gt_masks'], training=True,
                    box_gradient_counts=counts)
    losses = mnc_losses.compute_losses(outputs, model_cfg.MncLosses())
    cascade_loss = losses['total_loss'] - losses['stage1_loss']
  groups = {name: getattr(model, name).trainable_variables
            for name in GRADIENT_GROUPS}
  groups['rpn_box'] = [model.rpn_head.box_layer.kernel]
  groups['stage3_box'] = [
      model.classifier_head._box.kernel]  # pylint: disable=protected-access
  flat = [v for name in sorted(groups) for v in groups[name]]
  grads = tape.gradient(losses['total_loss'], flat)
  norms, start = {}, 0
  for name in sorted(groups):
    norms[name] = _norm(grads[start:start + len(groups[name])])
    start += len(groups[name])
  # Stages 2-5 reach the RPN box layer only through the proposal boxes.
  norms['rpn_box_path'] = _norm(tape.gradient(
      cascade_loss, [model.rpn_head.box_layer.kernel]))
  # Elements at the box-gradient clip per pathway (rpn, stage 3).
  numbers['clip_counts'] = tape.gradient(losses['total_loss'],
                                         counts).numpy().tolist()
  numbers['losses'] = {k: float(v) for k, v in losses.items()}
  numbers['gradient_norms'] = norms
  numbers['inference'] = inference_numbers(model, example)
  return numbers


def inference_numbers(model, example):
  """Detections of one pass, and with flip + an extra scale (same weights)."""
  result = {}
  plain = model(example['images'], example['image_info'], training=False)
  result['plain'] = _detections(plain)
  result['plain']['stage5_scores_sum'] = float(
      tf.reduce_sum(plain['stage5_scores']))
  tta = tiny_model(cascade={'test_horizontal_flip': True,
                            'test_extra_scales': [0.75]})
  tta.set_weights(model.get_weights())
  result['tta'] = _detections(tta(example['images'], example['image_info'],
                                  training=False))
  return result


def _detections(outputs):
  return {name: np.asarray(outputs[name]).tolist() for name in (
      'num_detections', 'detection_boxes', 'detection_scores',
      'detection_classes')}


def _write(path, value):
  with open(path, 'w') as f:
    json.dump(value, f, indent=1, sort_keys=True)
    f.write('\n')


def main(_):
  os.makedirs(FIXTURE_DIR, exist_ok=True)
  _write(FIXED_WEIGHTS, fixed_weight_numbers())
  _write(CHECKPOINT_KEYS, {name: experiment_checkpoint_keys(name)
                           for name in EXPERIMENTS})


if __name__ == '__main__':
  app.run(main)
