# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The stage-breakdown CLI: which runs it accepts and how it says no."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from official.core import train_utils

from mnc_tf.benchmarks import stage_breakdown
from mnc_tf.benchmarks import stage_breakdown_metrics as metrics_lib
from mnc_tf.benchmarks import vs_maskrcnn
from mnc_tf.evaluation import instance_evaluator


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
  model_dir = tmp_path / 'runs' / model
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
  (tmp_path / 'runs' / 'maskrcnn').mkdir(parents=True)
  code, err = _main(capsys, f'--work_dir={tmp_path}/runs', '--models=maskrcnn')
  assert code == 1 and len(err.splitlines()) == 1
  assert f'{tmp_path}/runs/maskrcnn/params.yaml: missing' in err
  _, model_dir = _write_run(tmp_path, 'mnc')
  code, err = _main(capsys, f'--mnc_dir={model_dir}', '--models=mnc')
  assert code == 1 and len(err.splitlines()) == 1
  assert f'{model_dir}: no checkpoint yet' in err


def test_unfinished_run_is_refused_unless_allowed(tmp_path, capsys):
  params, model_dir = _write_run(tmp_path, 'maskrcnn', steps_done=3)
  code, err = _main(capsys, f'--work_dir={tmp_path}/runs', '--models=maskrcnn')
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


def _one_instance_annotations(tmp_path):
  """Image 5, 60 x 80: one class-4 instance filling y 20-40, x 10-30."""
  mask = np.zeros((60, 80), np.uint8)
  mask[20:40, 10:30] = 1
  path = tmp_path / 'one.json'
  path.write_text(json.dumps({
      'images': [{'id': 5, 'height': 60, 'width': 80}],
      'annotations': [{
          'id': 1, 'image_id': 5, 'category_id': 4, 'iscrowd': 0,
          'area': 400.0, 'bbox': [10.0, 20.0, 20.0, 20.0],
          'segmentation': instance_evaluator.encode_masks(mask[None])[0]}],
      'categories': [{'id': 4}]}))
  return str(path)


@pytest.mark.parametrize('model', ['mnc', 'maskrcnn'])
def test_batch_outputs_are_mapped_to_original_pixels(tmp_path, model):
  # The network input is the image at scale 2 (Model Garden's image info):
  # the instance's box is (40, 20, 80, 60) there.
  image_info = np.array([[[60, 80], [120, 160], [2, 2], [0, 0]]], np.float32)
  box = [40.0, 20.0, 80.0, 60.0]
  outputs = {
      # The instance's box and one at IoU 0.6 with it, then padding.
      'rpn_rois': np.array([[[0, 0, 0, 0], [40, 20, 80, 60],
                             [40, 20, 80, 80], [0, 0, 0, 0]]], np.float32),
      'num_detections': np.array([1], np.int32),
      'detection_boxes': np.array([[box, [0, 0, 0, 0]]], np.float32),
      'detection_classes': np.array([[4, 0]], np.int32),
      'detection_scores': np.array([[0.9, 0.0]], np.float32),
      # Soft masks over their boxes: the whole box.
      'detection_masks': np.ones((1, 2, 14, 14), np.float32),
      'detection_mask_boxes': np.array([[box, [0, 0, 0, 0]]], np.float32)}
  params = vs_maskrcnn.mnc_params('t', 'v', 'a.json', [4], 10, 1, 2, 0.01)
  breakdown = metrics_lib.StageBreakdown(_one_instance_annotations(tmp_path))
  stage_breakdown.add_batch(breakdown, model, params, np.array([5]),
                            image_info, outputs)
  row = breakdown.result()['all']
  assert row['instances'] == 1
  assert row['proposal_recall50'] == row['proposal_recall70'] == 1.0
  assert row['box_AP50'] == pytest.approx(1.0)
  assert row['box_matched'] == 1
  # Each model's own pasting of a full soft mask fills the box exactly.
  assert row['matched_mask_iou'] == pytest.approx(1.0)
  assert row['mask_AP50'] == pytest.approx(1.0)
  # Skipped when not wanted.
  other = metrics_lib.StageBreakdown(_one_instance_annotations(tmp_path))
  stage_breakdown.add_batch(other, model, params, np.array([5]), image_info,
                            outputs, wanted={6})
  assert other.num_images == 0


def _tiny_run(work_dir, model, paths, steps=3):
  """A model dir of a tiny, untrained `model` whose checkpoint is final."""
  from official.core import task_factory  # pylint: disable=g-import-not-at-top
  from tests import mnc_test_data  # pylint: disable=g-import-not-at-top
  side = mnc_test_data.IMAGE_SIDE
  common = (paths['train_pattern'], paths['val_pattern'], paths['val_json'],
            [1, 2, 4], steps, 1, 2, 0.01)
  if model == 'mnc':
    params = vs_maskrcnn.mnc_params(
        *common, experiment='mnc_resnet18_fpn_custom_data')
    parser = {'scale': side, 'max_size': side, 'padded_size': [side, side]}
    params.override({'task': {'train_data': {'parser': parser},
                              'validation_data': {'parser': parser}}})
  else:
    params = vs_maskrcnn.maskrcnn_params(*common, image_size=side,
                                         max_num_instances=8)
  model_dir = os.path.join(work_dir, model)
  os.makedirs(model_dir)
  train_utils.serialize_config(params, model_dir)
  task = task_factory.get_task(params.task)
  network = task.build_model()
  images, labels = next(iter(task.build_inputs(params.task.validation_data)))
  if model == 'mnc':
    network(images, labels['image_info'], training=False)
  else:
    network(images, image_shape=labels['image_info'][:, 1, :],
            anchor_boxes=labels['anchor_boxes'], training=False)
  step = tf.Variable(steps, dtype=tf.int64)
  tf.train.CheckpointManager(
      tf.train.Checkpoint(global_step=step, model=network), model_dir,
      max_to_keep=1, step_counter=step).save(checkpoint_number=steps)


@pytest.mark.slow
def test_runs_both_models_end_to_end(tmp_path, capsys):
  from tests import mnc_test_data  # pylint: disable=g-import-not-at-top
  paths = mnc_test_data.make_tiny_shapes(str(tmp_path / 'data'), num_train=2,
                                         num_val=3)
  work_dir = str(tmp_path / 'runs')
  for model in ('mnc', 'maskrcnn'):
    _tiny_run(work_dir, model, paths)
  capsys.readouterr()
  code = stage_breakdown.main(['stage_breakdown', f'--work_dir={work_dir}',
                               '--max_images=2', '--json'])
  captured = capsys.readouterr()
  assert code == 0, captured.err[-2000:]
  report = json.loads(captured.out)
  with open(paths['val_json']) as f:
    coco = json.load(f)
  first = sorted(image['id'] for image in coco['images'])[:2]
  instances = sum(a['image_id'] in first for a in coco['annotations'])
  assert sorted(report) == ['MNC ResNet-18 FPN', 'Mask R-CNN ResNet-18 FPN']
  for run in report.values():
    assert run['images'] == 2 and run['step'] == 3
    table = run['by_size']
    assert table['all']['instances'] == instances
    assert 0.0 <= table['all']['proposal_recall50'] <= 1.0
    assert table['all']['proposal_recall70'] <= (
        table['all']['proposal_recall50'])
