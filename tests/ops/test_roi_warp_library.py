# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""A damaged compiled op falls back to the twin instead of killing Python."""
import os
import shutil

import pytest

from mnc_tf.ops import roi_warp_custom

needs_library = pytest.mark.skipif(
    not os.path.exists(roi_warp_custom.LIBRARY_PATH),
    reason='the compiled op is not built (make install)')


def _load_from(monkeypatch, path):
  monkeypatch.setattr(roi_warp_custom, 'LIBRARY_PATH', path)
  monkeypatch.setattr(roi_warp_custom, '_state',
                      {'module': None, 'error': None, 'tried': False})
  return roi_warp_custom.load(), roi_warp_custom.load_error()


@needs_library
def test_intact_library_passes_the_length_check():
  assert roi_warp_custom.elf_problem(roi_warp_custom.LIBRARY_PATH) is None


@needs_library
@pytest.mark.parametrize('cut', [0.5, 1])
def test_cut_off_library_is_refused_before_dlopen(tmp_path, monkeypatch, cut):
  # dlopen of a cut-off library dies of SIGBUS: this test process would end.
  path = str(tmp_path / '_roi_warp_ops.so')
  shutil.copy(roi_warp_custom.LIBRARY_PATH, path)
  size = os.path.getsize(path)
  keep = int(size * cut) if isinstance(cut, float) else size - cut
  with open(path, 'r+b') as f:
    f.truncate(keep)
  module, error = _load_from(monkeypatch, path)
  assert module is None
  assert error.startswith(f'{path} is truncated ({keep} bytes; its headers '
                          f'need {size})'), error
  assert error.endswith('to compile it again')


@pytest.mark.parametrize('content,reason', [
    (b'', 'not an ELF shared library'),
    (b'#!/bin/sh\necho not a library\n' * 4, 'not an ELF shared library'),
    (None, 'unreadable (Is a directory)'),
])
def test_wrong_kind_of_library_falls_back(tmp_path, monkeypatch, content,
                                          reason):
  path = str(tmp_path / '_roi_warp_ops.so')
  if content is None:
    os.makedirs(path)
  else:
    with open(path, 'wb') as f:
      f.write(content)
  module, error = _load_from(monkeypatch, path)
  assert module is None and error.startswith(f'{path} is {reason}'), error
