# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The stage-breakdown CLI: which runs it accepts and how it says no."""

import os

import pytest
import tensorflow as tf

from official.core import train_utils

from mnc_tf.benchmarks import stage_breakdown
from mnc_tf.benchmarks import vs_maskrcnn


def _write_run(tmp_path, model, steps_done=None, train_steps=40):
  """A vs_maskrcnn model dir: params.yaml and, optionally, a checkpoint."""
  (tmp_path / 'val.json').write_text('{}')
  (tmp_path / 'va-0.tfrecord').write_bytes(b'')
  common = (str(tmp_path / 'tr-*.tfrecord'), str(tmp_path / 'va-*.tfrecord'),
            str(tmp_path / 'val.json'), [1, 4, 9], train_steps, 5, 2, 0.01)
  if model == 'mnc':
    params = vs_maskrcnn.mnc_params(
        *common, experiment='mnc_resnet18_fpn_custom_data')
  else:
    params = vs_maskrcnn.maskrcnn_params(*common, image_size=448,
                                         max_num_instances=32)
  model_dir = tmp_path / 'work' / model
  model_dir.mkdir(parents=True)
  train_utils.serialize_config(params, str(model_dir))
  if steps_done is not None:
    step = tf.Variable(steps_done, dtype=tf.int64)
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(global_step=step), str(model_dir), max_to_keep=1,
        step_counter=step)
    manager.save(checkpoint_number=steps_done)
  return params, str(model_dir)


def _main(capsys, *args):
  code = stage_breakdown.main(['stage_breakdown', *args])
  return code, capsys.readouterr().err.strip()


def test_missing_work_dir_names_it(tmp_path, capsys):
  code, err = _main(capsys, f'--work_dir={tmp_path}/nowhere')
  assert code == 1
  assert err == (f'stage_breakdown: error: {tmp_path}/nowhere/mnc: no such '
                 'run directory (the mnc model dir of vs_maskrcnn); pass '
                 '--work_dir or --mnc_dir.')


def test_missing_params_and_checkpoint_are_named(tmp_path, capsys):
  (tmp_path / 'work' / 'maskrcnn').mkdir(parents=True)
  code, err = _main(capsys, f'--work_dir={tmp_path}/work', '--models=maskrcnn')
  assert code == 1 and len(err.splitlines()) == 1
  assert f'{tmp_path}/work/maskrcnn/params.yaml: missing' in err
  _, model_dir = _write_run(tmp_path, 'mnc')
  code, err = _main(capsys, f'--mnc_dir={model_dir}', '--models=mnc')
  assert code == 1 and len(err.splitlines()) == 1
  assert f'{model_dir}: no checkpoint yet' in err


def test_unfinished_run_is_refused_unless_allowed(tmp_path, capsys):
  params, model_dir = _write_run(tmp_path, 'maskrcnn', steps_done=3)
  code, err = _main(capsys, f'--work_dir={tmp_path}/work', '--models=maskrcnn')
  assert code == 1 and len(err.splitlines()) == 1
  assert err.endswith(f'{model_dir}/ckpt-3: step 3 of 40, the run is '
                      'unfinished; wait for it or pass --allow_unfinished.')
  loaded, checkpoint, step = stage_breakdown.load_run(
      model_dir, 'maskrcnn', allow_unfinished=True)
  assert (checkpoint, step) == (os.path.join(model_dir, 'ckpt-3'), 3)
  # The run's own config, read strictly into Mask R-CNN's config class.
  assert loaded.as_dict() == params.as_dict()


def test_finished_mnc_run_loads_its_own_config(tmp_path):
  params, model_dir = _write_run(tmp_path, 'mnc', steps_done=40)
  loaded, _, step = stage_breakdown.load_run(model_dir, 'mnc')
  assert step == 40
  assert loaded.as_dict() == params.as_dict()
  assert loaded.task.model.decoder.type == 'fpn'
  assert vs_maskrcnn.model_label('mnc', loaded) == 'MNC ResNet-18 FPN'


def test_missing_validation_data_is_named(tmp_path, capsys):
  _, model_dir = _write_run(tmp_path, 'mnc', steps_done=40)
  os.remove(tmp_path / 'va-0.tfrecord')
  code, err = _main(capsys, f'--mnc_dir={model_dir}', '--models=mnc')
  assert code == 1
  assert err == (f'stage_breakdown: error: {tmp_path}/va-*.tfrecord: the '
                 "run's validation TFRecords match no file.")


def test_unknown_model_is_refused(capsys):
  code, err = _main(capsys, '--models=mnc,detr')
  assert code == 1 and "unknown --models ['detr']" in err


@pytest.mark.parametrize('path, step', [('/a/ckpt-600', 600), ('x/ckpt-1', 1)])
def test_checkpoint_step(path, step):
  assert stage_breakdown.checkpoint_step(path) == step
