# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Every flagfile's experiment, with its YAML, resolves and builds its model.

No data or pretrained weights exist in CI: `init_checkpoint` is cleared and
the inputs are not checked; the model is built by the Task (as train.py does)
with its variables created by one pass on a small zero image.
"""
import glob
import os

import numpy as np
import pytest

from mnc_tf import registry_imports  # pylint: disable=unused-import
from mnc_tf.configs import experiment_params
from official.core import task_factory

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FLAGFILES = sorted(glob.glob(os.path.join(REPO_ROOT, 'configs', '*.flags')))


def read_flagfile(path):
  """{flag: [values]} of a flagfile (comments and blank lines skipped)."""
  values = {}
  with open(path) as f:
    for line in f:
      line = line.strip()
      if not line or line.startswith('#'):
        continue
      name, _, value = line.lstrip('-').partition('=')
      values.setdefault(name, []).append(value)
  return values


def test_every_registered_experiment_has_a_flagfile_and_yaml():
  experiments = {read_flagfile(p)['experiment'][0] for p in FLAGFILES}
  assert experiments == set(experiment_params.registered_experiments())
  for name in experiments:
    assert os.path.exists(os.path.join(REPO_ROOT, 'configs', 'experiments',
                                       f'{name}.yaml')), name


@pytest.mark.slow
@pytest.mark.parametrize('flagfile', FLAGFILES, ids=os.path.basename)
def test_flagfile_experiment_builds(flagfile):
  values = read_flagfile(flagfile)
  assert set(values) >= {'experiment', 'config_file', 'mode', 'model_dir'}
  config_files = [os.path.join(REPO_ROOT, p) for p in values['config_file']]
  params = experiment_params.parse(
      values['experiment'][0], config_files,
      params_override="task.model.init_checkpoint=''")
  task = task_factory.get_task(params.task, logging_dir=None)
  model = task.build_model()
  assert model.count_params() > 0
  names = {v.name.split('/')[0] for v in model.trainable_variables}
  assert len(model.trainable_variables) > 10, names
  for stage in ('rpn_head', 'mask_head', 'classifier_head'):
    assert getattr(model, stage).built, stage


def test_custom_data_recipe_reports_metrics_per_size_bin():
  params = experiment_params.parse(
      'mnc_shapes_demo',
      [os.path.join(REPO_ROOT, 'configs', 'experiments',
                    'mnc_custom_data.yaml')],
      params_override="task.annotation_file=''")
  assert list(params.task.size_bins) == [10, 20, 40]
  task = task_factory.get_task(params.task, logging_dir=None)
  task.build_metrics(training=False)
  evaluator = task._evaluator  # pylint: disable=protected-access
  mask = np.zeros((1, 64, 64), np.uint8)
  mask[0, 10:25, 10:25] = 1  # 15 px: the 10-20 bin.
  evaluator.add_groundtruth(1, 64, 64, [1], mask)
  evaluator.add_detections(1, [[10, 10, 25, 25]], [1], [0.9], mask)
  metrics = evaluator.evaluate()
  assert metrics['mask_R50_BySize/10-20'] == 1.0
  assert metrics['box_AP50_BySize/10-20'] == pytest.approx(1.0)
  assert metrics['mask_R50_BySize/0-10'] == -1.0  # No instance that small.


def test_custom_data_experiment_equals_demo_plus_recipe_yaml():
  """`mnc_custom_data` is what `mnc_shapes_demo` + the recipe's YAML gave.

  The flagfile ran `--experiment=mnc_shapes_demo` with the YAML before the
  recipe had a name; the registered experiment alone, and with the YAML
  (which restates it), must resolve to those same params.
  """
  recipe = [os.path.join(REPO_ROOT, 'configs', 'experiments',
                         'mnc_custom_data.yaml')]
  no_files = "task.annotation_file=''"
  demo_plus_yaml = experiment_params.parse('mnc_shapes_demo', recipe,
                                           no_files).as_dict()
  registered = experiment_params.parse('mnc_custom_data', [],
                                       no_files).as_dict()
  registered_plus_yaml = experiment_params.parse('mnc_custom_data', recipe,
                                                 no_files).as_dict()
  assert registered == demo_plus_yaml
  assert registered_plus_yaml == demo_plus_yaml
  # Guards against a vacuous pass: the recipe is not the demo.
  demo = experiment_params.parse('mnc_shapes_demo', [], no_files).as_dict()
  assert demo['task']['model']['backbone']['tiny']['output_stride'] == 16
  assert registered['task']['model']['backbone']['tiny']['output_stride'] == 4


def test_fpn_custom_data_experiment_is_the_recipe_plus_its_yaml():
  """`mnc_resnet18_fpn_custom_data` = `mnc_custom_data` + its YAML's values."""
  yaml = [os.path.join(REPO_ROOT, 'configs', 'experiments',
                       'mnc_resnet18_fpn_custom_data.yaml')]
  recipe_plus_yaml = experiment_params.parse('mnc_custom_data', yaml, '')
  registered = experiment_params.parse('mnc_resnet18_fpn_custom_data', [], '')
  assert recipe_plus_yaml.as_dict() == registered.as_dict()
  model = registered.task.model
  assert (model.decoder.type, model.backbone.resnet.model_id) == ('fpn', 18)
  coco = experiment_params.parse('mnc_resnet50_fpn_coco', [], '').task
  assert (coco.model.decoder.type, coco.model.backbone.resnet.model_id) == (
      'fpn', 50)
  assert coco.train_data.parser.size_divisor == 32
