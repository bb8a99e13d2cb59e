# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Every flagfile's experiment, with its YAML, resolves and builds its model.

No data or pretrained weights exist in CI: `init_checkpoint` is cleared and
the inputs are not checked; the model is built by the Task (as train.py does)
with its variables created by one pass on a small zero image.
"""
import glob
import os

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
