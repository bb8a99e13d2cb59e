# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""train.py's bad input: one line, non-zero exit, nothing written."""
import os
import subprocess
import sys
import types

import pytest

from official.core import exp_factory

from tests import train_subprocess

import train  # pylint: disable=g-bad-import-order


def _flags(**overrides):
  values = dict(experiment='mnc_shapes_demo', config_file=None,
                params_override='', mode='train', model_dir='/tmp/unused',
                tpu='', tf_data_service=None)
  values.update(overrides)
  return types.SimpleNamespace(**values)


@pytest.mark.parametrize('overrides,start', [
    (dict(experiment='mnc_nope'), 'unknown --experiment=mnc_nope; MNC '
     'experiments: mnc_custom_data, mnc_resnet101_coco, '
     'mnc_resnet18_fpn_custom_data, mnc_resnet50_coco, mnc_resnet50_fpn_coco, '
     'mnc_shapes_demo, mnc_vgg16_voc.'),
    (dict(params_override='trainer.train_stepz=30'),
     '--params_override: unknown key trainer.train_stepz; did you mean '
     'trainer.train_steps'),
    (dict(params_override='trainer.train_steps=thirty'),
     "trainer.train_steps='thirty': expected an integer"),
    (dict(params_override='task.train_data.global_batch_size=abc'),
     "task.train_data.global_batch_size='abc': expected an integer"),
    (dict(mode='trian'), '--mode=trian must be one of train, eval, '
     'train_and_eval, continuous_eval.'),
    (dict(model_dir=''), '--model_dir is required'),
])
def test_bad_flags_are_one_line_errors(overrides, start):
  with pytest.raises(train.experiment_params.ParamsError) as info:
    train.parse_params(_flags(**overrides))
  assert str(info.value).startswith(start)


def test_eval_without_a_checkpoint_is_an_error(tmp_path):
  # Orbit would evaluate a randomly initialized model and report zeros.
  params = exp_factory.get_exp_config('mnc_shapes_demo')
  eval_flags = _flags(mode='eval', model_dir=str(tmp_path))
  with pytest.raises(train.experiment_params.ParamsError,
                     match='--mode=eval found no checkpoint in --model_dir='):
    train.check_eval_checkpoint(eval_flags, params)
  # Training modes, a whole-model init_checkpoint and a directory with a
  # checkpoint are not refused.
  train.check_eval_checkpoint(
      _flags(mode='train_and_eval', model_dir=str(tmp_path)), params)
  with_init = exp_factory.get_exp_config('mnc_shapes_demo')
  with_init.override({'task': {'init_checkpoint': '/some/ckpt-100'}})
  train.check_eval_checkpoint(eval_flags, with_init)
  train.tf.train.Checkpoint(step=train.tf.Variable(1)).save(
      str(tmp_path / 'ckpt'))
  train.check_eval_checkpoint(eval_flags, params)


@pytest.mark.slow
def test_cli_exits_non_zero_with_one_line_and_writes_no_params(tmp_path):
  model_dir = tmp_path / 'model'
  result = subprocess.run(
      [sys.executable, train_subprocess.TRAIN_PY,
       '--experiment=mnc_shapes_demo', '--mode=train',
       f'--model_dir={model_dir}',
       '--params_override=trainer.train_steps=thirty'],
      cwd=str(tmp_path), env=train_subprocess.environment(),
      capture_output=True, text=True, timeout=120)
  assert result.returncode == 1
  assert 'Traceback' not in result.stderr + result.stdout
  assert result.stderr.strip().splitlines()[-1] == (
      "train.py: error: trainer.train_steps='thirty': expected an integer "
      '(TrainerConfig.train_steps is int).')
  assert not os.path.exists(model_dir)
