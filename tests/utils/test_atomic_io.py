# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the atomic writers and the cleanup of killed runs' temporaries."""
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from mnc_tf.utils import atomic_io


def _dead_pid():
  """The PID of a process that has exited (and been reaped)."""
  child = subprocess.Popen([sys.executable, '-c', 'pass'])
  child.wait()
  return child.pid


def test_writers_leave_only_the_final_files(tmp_path):
  out = tmp_path / 'sub'
  atomic_io.write_bytes(str(out / 'a.bin'), b'\x00\x01')
  atomic_io.write_text(str(out / 'b.txt'), 'héllo')
  atomic_io.write_json(str(out / 'c.json'), {'x': [1, 2]}, indent=1)
  image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
  atomic_io.write_image(str(out / 'd.png'), image)
  assert sorted(os.listdir(out)) == ['a.bin', 'b.txt', 'c.json', 'd.png']
  assert (out / 'a.bin').read_bytes() == b'\x00\x01'
  assert (out / 'b.txt').read_text(encoding='utf-8') == 'héllo'
  assert json.loads((out / 'c.json').read_text()) == {'x': [1, 2]}
  np.testing.assert_array_equal(np.asarray(Image.open(out / 'd.png')), image)


def test_failed_write_keeps_previous_file_and_no_temporary(tmp_path):
  path = str(tmp_path / 'f.txt')
  atomic_io.write_text(path, 'old')
  with pytest.raises(RuntimeError):
    with atomic_io.atomic_path(path) as tmp:
      with open(tmp, 'w') as f:
        f.write('half')
      raise RuntimeError('killed')
  assert os.listdir(tmp_path) == ['f.txt']
  assert open(path).read() == 'old'


def test_directory_output_replaces_existing_directory(tmp_path):
  path = str(tmp_path / 'saved')
  for content in ('first', 'second'):
    with atomic_io.atomic_path(path) as tmp:
      os.makedirs(tmp)
      with open(os.path.join(tmp, 'x'), 'w') as f:
        f.write(content)
  assert os.listdir(tmp_path) == ['saved']
  assert open(os.path.join(path, 'x')).read() == 'second'


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
  path = str(tmp_path / 'train-00000-of-00001.tfrecord')
  dead = _dead_pid()
  stale_file = f'{path}.tmp-{dead}'
  stale_dir = f'{path}.tmp-{dead}-1700000000'
  live_other = f'{path}.tmp-{os.getppid()}'  # the parent is alive
  unrelated = str(tmp_path / 'other.tfrecord.tmp-1')
  open(stale_file, 'w').close()
  os.makedirs(os.path.join(stale_dir, 'variables'))
  open(live_other, 'w').close()
  open(unrelated, 'w').close()
  assert atomic_io.stale_temporaries(path) == sorted([stale_file, stale_dir])
  atomic_io.write_bytes(path, b'data')  # the next writer cleans up
  assert sorted(os.listdir(tmp_path)) == sorted(
      [os.path.basename(p) for p in (path, live_other, unrelated)])
