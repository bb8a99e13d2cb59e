# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""`pip wheel` compiles the RoI-warp op; the wheel works in a fresh venv.

The source distribution is built first (so MANIFEST.in must carry the op's
sources and build script), the wheel is built from the unpacked sdist with
`pip wheel --no-build-isolation` (the build uses this environment's
TensorFlow, so nothing is downloaded), and installed with `pip --python` into
a new virtual environment made without pip. Only then does a `.pth` file put
this environment's site-packages (TensorFlow and the other dependencies, ~600
MB we do not copy) on the new environment's path; this package itself is not
there (it is installed editable, through a finder that the `.pth` path does not
run). The op runs with `implementation='custom'` in that environment, from a
directory outside the source tree, and must agree with the pure-TF twin.
"""
import glob
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile

import pytest

# Builds an sdist and a wheel and installs it: `make test-fast` skips it.
pytestmark = pytest.mark.slow

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK = r'''
import os, sys
import numpy as np
import mnc_tf
from mnc_tf.ops import roi_warp, roi_warp_custom
assert mnc_tf.__file__.startswith(sys.prefix), mnc_tf.__file__
rng = np.random.default_rng(0)
features = rng.normal(size=(1, 12, 14, 3)).astype(np.float32)
boxes = np.array([[[10., 20., 150., 200.], [0., 0., 60., 90.]]], np.float32)
custom = roi_warp(features, boxes, output_size=4, spatial_scale=1 / 16,
                  implementation='custom').numpy()
twin = roi_warp(features, boxes, output_size=4, spatial_scale=1 / 16,
                implementation='tf').numpy()
print('library', roi_warp_custom.__file__)
print('maxdiff', float(np.abs(custom - twin).max()), float(np.abs(twin).max()))
# The benchmarks need no source tree: the recipe is a registered experiment.
from mnc_tf.benchmarks import vs_maskrcnn
params = vs_maskrcnn.mnc_params('t-*', 'v-*', 'v.json', [1, 2], 10, 1, 2, 0.01)
print('recipe', params.task.train_data.parser.scale,
      params.task.model.anchors.scales[0])
'''


def _run(cmd, cwd, env=None, timeout=600):
  result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
  assert result.returncode == 0, (' '.join(cmd) + '\n' + result.stdout[-3000:]
                                  + result.stderr[-3000:])
  return result.stdout


def test_wheel_compiles_the_op_and_runs_it_in_a_fresh_venv(tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONNOUSERSITE='1')
  env.pop('PYTHONPATH', None)
  _run([sys.executable, 'setup.py', '-q', 'egg_info', '--egg-base',
        str(tmp_path), 'sdist', '--dist-dir', str(tmp_path / 'sdist')],
       cwd=REPO_ROOT, env=env)
  (sdist,) = glob.glob(str(tmp_path / 'sdist' / 'mnc_tf-*.tar.gz'))
  with tarfile.open(sdist) as tar:
    tar.extractall(tmp_path / 'src', filter='data')
  (source,) = glob.glob(str(tmp_path / 'src' / 'mnc_tf-*'))
  assert not glob.glob(os.path.join(source, 'mnc_tf', 'ops', '*.so'))

  _run([sys.executable, '-m', 'pip', 'wheel', '--quiet', '--no-deps',
        '--no-build-isolation', '--wheel-dir', str(tmp_path / 'wheel'),
        source], cwd=str(tmp_path), env=env)
  (wheel,) = glob.glob(str(tmp_path / 'wheel' / 'mnc_tf-*.whl'))
  assert '-cp3' in os.path.basename(wheel) and 'linux' in wheel  # platform
  with zipfile.ZipFile(wheel) as archive:
    names = archive.namelist()
  assert 'mnc_tf/ops/_roi_warp_ops.so' in names
  # Repository tools stay out of the package.
  assert not [n for n in names if n.startswith('tools/')], names

  venv = tmp_path / 'venv'
  _run([sys.executable, '-m', 'venv', '--without-pip', str(venv)],
       cwd=str(tmp_path), env=env)
  python = str(venv / 'bin' / 'python')
  _run([sys.executable, '-m', 'pip', '--python', python, 'install', '--quiet',
        '--no-deps', '--no-index', wheel], cwd=str(tmp_path), env=env)
  site_packages = _run(
      [python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
      cwd=str(tmp_path), env=env).strip()
  with open(os.path.join(site_packages, 'deps_from_dev_venv.pth'), 'w') as f:
    f.write(sysconfig.get_path('purelib') + '\n')

  out = _run([python, '-c', CHECK], cwd=str(tmp_path), env=env)
  lines = dict(line.split(' ', 1) for line in out.strip().splitlines())
  assert lines['library'].startswith(str(venv)), lines
  maxdiff, scale = map(float, lines['maxdiff'].split())
  assert scale > 0.1 and maxdiff < 1e-5, lines
  assert lines['recipe'] == '320 8.0', lines
