"""The op library's CPU portability: wheel flags and the loader's CPU check.

A wheel's library may run on another CPU than the one that built it, so
`setup.py`'s build_py compiles it with `build_op.host_flags(portable=True)`
(x86-64-v3 on x86-64, not -march=native), and `roi_warp_custom.load()`
refuses it on an x86-64 CPU without AVX2 / FMA (the pure-TF twin runs).
"""

import importlib
import os

import pytest

from mnc_tf.ops import roi_warp_custom

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _build_op(monkeypatch):
  """custom_ops/build_op.py (not part of the package), imported from its folder."""
  monkeypatch.syspath_prepend(os.path.join(ROOT, 'custom_ops'))
  return importlib.import_module('build_op')


@pytest.mark.parametrize('machine,portable,want', [
    ('x86_64', True, ['-O3', '-march=x86-64-v3', '-mtune=generic']),
    ('x86_64', False, ['-O3', '-march=native']),
    ('aarch64', True, ['-O3']),
])
def test_host_flags(monkeypatch, machine, portable, want):
  build_op = _build_op(monkeypatch)
  monkeypatch.delenv('MNC_TF_CXXFLAGS', raising=False)
  monkeypatch.setattr(build_op.platform, 'machine', lambda: machine)
  assert build_op.host_flags(portable) == want
  monkeypatch.setenv('MNC_TF_CXXFLAGS', '-O2 -g')
  assert build_op.host_flags(portable) == ['-O2', '-g']


def test_missing_cpu_features(monkeypatch, tmp_path):
  monkeypatch.setattr(roi_warp_custom.platform, 'machine', lambda: 'x86_64')
  info = tmp_path / 'cpuinfo'
  info.write_text('processor\t: 0\nflags\t\t: fpu sse2 avx fma\n')
  assert roi_warp_custom.missing_cpu_features(str(info)) == ['avx2']
  info.write_text('processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n')
  assert roi_warp_custom.missing_cpu_features(str(info)) == []
  assert roi_warp_custom.missing_cpu_features(str(tmp_path / 'none')) == []
  monkeypatch.setattr(roi_warp_custom.platform, 'machine', lambda: 'aarch64')
  info.write_text('flags\t\t: fpu\n')
  assert roi_warp_custom.missing_cpu_features(str(info)) == []
