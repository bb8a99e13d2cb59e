# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Runs `train.py` in a subprocess for the integration tests."""
import os
import subprocess
import sys

from tests import mnc_test_data

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_PY = os.path.join(REPO_ROOT, 'train.py')


def environment(extra=None):
  env = dict(os.environ)
  env['TF_CPP_MIN_LOG_LEVEL'] = '2'
  env['PYTHONPATH'] = os.pathsep.join(
      [REPO_ROOT, os.path.join(REPO_ROOT, 'tests')] +
      ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
  env.update(extra or {})
  return env


def command(model_dir, paths, mode, overrides=''):
  """The train.py command line for the tiny `mnc_shapes_demo`."""
  override = mnc_test_data.TINY_OVERRIDES + ',' + mnc_test_data.data_overrides(
      paths)
  if overrides:
    override += ',' + overrides
  return [sys.executable, TRAIN_PY, '--experiment=mnc_shapes_demo',
          f'--mode={mode}', f'--model_dir={model_dir}',
          f'--params_override={override}']


def run(model_dir, paths, mode, overrides='', timeout=300):
  """Runs train.py to completion; returns the CompletedProcess (text)."""
  return subprocess.run(command(model_dir, paths, mode, overrides),
                        cwd=REPO_ROOT, env=environment(), timeout=timeout,
                        capture_output=True, text=True)
