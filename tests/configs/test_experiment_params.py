# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Bad experiment names, keys and values become one-line `ParamsError`s."""
import os

import pytest

from mnc_tf import registry_imports  # pylint: disable=unused-import
from mnc_tf.configs import experiment_params

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MNC_EXPERIMENTS = ['mnc_custom_data', 'mnc_resnet101_coco',
                   'mnc_resnet18_fpn_custom_data', 'mnc_resnet50_coco',
                   'mnc_resnet50_fpn_coco', 'mnc_shapes_demo',
                   'mnc_vgg16_voc']


def _error(*args, **kwargs):
  with pytest.raises(experiment_params.ParamsError) as info:
    experiment_params.parse(*args, **kwargs)
  message = str(info.value)
  assert '\n' not in message
  return message


def test_registered_experiments_are_ours():
  assert experiment_params.registered_experiments() == MNC_EXPERIMENTS


def test_unknown_experiment_lists_the_registered_ones():
  message = _error('mnc_shapes_dem')
  assert message.startswith('unknown --experiment=mnc_shapes_dem (did you '
                            'mean mnc_shapes_demo?)')
  assert message.endswith('MNC experiments: ' + ', '.join(MNC_EXPERIMENTS)
                          + '.')
  assert 'MNC experiments:' in _error(None)


def test_unknown_key_gives_the_path_and_close_names():
  message = _error('mnc_shapes_demo', params_override='trainer.train_stepz=30')
  assert message == ('--params_override: unknown key trainer.train_stepz; '
                     'did you mean trainer.train_steps or '
                     'trainer.train_tf_while_loop.')
  message = _error('mnc_shapes_demo',
                   params_override='task.model.cascadez.box_gradient=false')
  assert 'unknown key task.model.cascadez; did you mean task.model.cascade' in (
      message)


def test_unknown_key_in_a_config_file_names_the_file(tmp_path):
  path = tmp_path / 'bad.yaml'
  path.write_text('trainer:\n  optimizer_config:\n    learning_rat: {}\n')
  message = _error('mnc_shapes_demo', config_files=[str(path)])
  assert message.startswith('--config_file: unknown key '
                            'trainer.optimizer_config.learning_rat; did you '
                            'mean trainer.optimizer_config.learning_rate')
  assert _error('mnc_shapes_demo', config_files=[str(tmp_path / 'no.yaml')]) \
      == f'--config_file={tmp_path / "no.yaml"}: no such file.'


def test_a_config_file_may_switch_a_one_of_type(tmp_path):
  """The schedule's `type` and its new branch (cosine) are known keys."""
  path = tmp_path / 'cosine.yaml'
  path.write_text('trainer:\n  optimizer_config:\n    learning_rate:\n'
                  '      type: cosine\n      cosine:\n'
                  '        initial_learning_rate: 0.02\n'
                  '        decay_steps: 500\n')
  params = experiment_params.parse('mnc_shapes_demo', config_files=[str(path)])
  schedule = params.trainer.optimizer_config.learning_rate
  assert schedule.type == 'cosine'
  assert schedule.get().initial_learning_rate == 0.02
  assert schedule.get().decay_steps == 500
  message = _error('mnc_shapes_demo', params_override=(
      'trainer.optimizer_config.learning_rate.cosinez.decay_steps=5'))
  assert 'unknown key trainer.optimizer_config.learning_rate.cosinez' in (
      message)


@pytest.mark.parametrize('override,expected', [
    ('trainer.train_steps=thirty',
     "trainer.train_steps='thirty': expected an integer (TrainerConfig."
     'train_steps is int).'),
    ('task.train_data.global_batch_size=abc',
     "task.train_data.global_batch_size='abc': expected an integer "
     '(DataConfig.global_batch_size is int).'),
    ('trainer.train_steps=2.5',
     'trainer.train_steps=2.5: expected an integer (TrainerConfig.train_steps '
     'is int).'),
    ('task.train_data.is_training=maybe',
     "task.train_data.is_training='maybe': expected true or false "
     '(DataConfig.is_training is bool).'),
])
def test_values_of_the_wrong_type(override, expected):
  assert _error('mnc_shapes_demo', params_override=override) == expected


def test_good_overrides_apply_and_ints_fit_float_fields():
  params = experiment_params.parse(
      'mnc_shapes_demo',
      [os.path.join(REPO_ROOT, 'configs/experiments/mnc_shapes_demo.yaml')],
      'trainer.train_steps=30,task.losses.l2_weight_decay=0,'
      'task.train_data.is_training=true')
  assert params.trainer.train_steps == 30
  assert params.task.losses.l2_weight_decay == 0


def test_inputs_of_the_mode_must_exist(tmp_path):
  (tmp_path / 'train-0.tfrecord').write_bytes(b'')
  (tmp_path / 'val.json').write_text('{}')
  base = (f"task.train_data.input_path={tmp_path}/train-*.tfrecord,"
          f"task.annotation_file={tmp_path}/val.json")
  params = experiment_params.parse('mnc_shapes_demo', params_override=base,
                                   mode='train')
  assert params.task.train_data.input_path.endswith('train-*.tfrecord')
  # An explicit missing validation path: the experiment's default one exists
  # once `make demo` has run.
  message = _error('mnc_shapes_demo', mode='train_and_eval', params_override=(
      f'{base},task.validation_data.input_path={tmp_path}/val-*.tfrecord'))
  assert message.startswith('task.validation_data.input_path=')
  assert 'matches no file' in message
  message = _error(
      'mnc_shapes_demo', mode='train',
      params_override=f'task.train_data.input_path={tmp_path}/nope-*')
  assert message.startswith(f"task.train_data.input_path='{tmp_path}/nope-*' "
                            'matches no file')
  message = _error(
      'mnc_shapes_demo', mode='eval', params_override=(
          f'task.validation_data.input_path={tmp_path}/train-*.tfrecord,'
          f'task.annotation_file={tmp_path}/missing.json'))
  assert message.startswith(f"task.annotation_file='{tmp_path}/missing.json' "
                            'does not exist')


def test_bad_size_bins_are_refused_before_anything_is_built(tmp_path):
  records = tmp_path / 'val-00000-of-00001.tfrecord'
  records.write_bytes(b'')
  with pytest.raises(experiment_params.ParamsError,
                     match=r'task.size_bins must be positive and increasing'):
    experiment_params.parse(
        'mnc_shapes_demo', params_override=(
            f'task.size_bins=[20,10],task.validation_data.input_path='
            f'{tmp_path}/val-*.tfrecord'), mode='eval')
