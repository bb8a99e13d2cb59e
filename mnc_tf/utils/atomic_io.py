# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Writes files under a temporary name in the same directory, then renames.

A reader never sees half a file: every writer here writes
`<path>.tmp-<pid>` (or `<path>.tmp-<pid>-<tag>` for several temporaries of one
process) and renames it onto `<path>` (`os.replace` semantics via
`tf.io.gfile.rename`, so `gs://` paths work too). A process killed mid-write
leaves its temporary behind; `remove_stale_temporaries(path)` deletes those
whose process is gone, and every `write_*` here calls it first, so the next run
writing the same output cleans up after the killed one.

    atomic_io.write_json('out/metrics.json', {'ap': 0.5})
    with atomic_io.atomic_path('out/model.bin') as tmp:
      save_somehow(tmp)          # renamed to out/model.bin on success,
                                 # removed on an exception
"""
import contextlib
import io
import json
import os
import re
import shutil

import numpy as np
from PIL import Image
import tensorflow as tf

_TEMP_INFIX = '.tmp-'


def temp_path(path, tag=None):
  """`<path>.tmp-<pid>[-<tag>]`: this process' temporary name for `path`."""
  suffix = f'{_TEMP_INFIX}{os.getpid()}'
  if tag is not None:
    suffix += f'-{tag}'
  return path + suffix


def _is_local(path):
  return '://' not in path


def _pid_alive(pid):
  """True when process `pid` exists on this machine (or cannot be probed)."""
  if pid <= 0:
    return False
  if pid == os.getpid():
    return True
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # exists, belongs to someone else
    return True
  except OSError:
    return True
  return True


def stale_temporaries(path, final_name_pattern=None):
  """Temporaries `<path>.tmp-<pid>[-...]` left by processes that are gone.

  Args:
    path: the final output path (file or directory).
    final_name_pattern: optional regular expression for the final names in
      `path`'s directory whose temporaries count (e.g. every shard of a
      prefix, whatever its shard count); default: `path`'s name only.

  Returns:
    Sorted list of leftover temporary paths whose writing process no longer
    runs. Only local paths are probed (a PID means nothing on `gs://`).
  """
  if not _is_local(path):
    return []
  directory = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(directory):
    return []
  final = final_name_pattern or re.escape(os.path.basename(path))
  pattern = re.compile('(?:%s)%s' % (final, re.escape(_TEMP_INFIX))
                       + r'(\d+)(?:-.*)?$')
  stale = []
  for name in os.listdir(directory):
    match = pattern.match(name)
    if match and not _pid_alive(int(match.group(1))):
      stale.append(os.path.join(os.path.dirname(path), name))
  return sorted(stale)


def remove_stale_temporaries(path, final_name_pattern=None):
  """Deletes what `stale_temporaries` lists; returns the paths removed."""
  removed = []
  for stale in stale_temporaries(path, final_name_pattern):
    try:
      if os.path.isdir(stale) and not os.path.islink(stale):
        shutil.rmtree(stale)
      else:
        os.remove(stale)
      removed.append(stale)
    except FileNotFoundError:
      pass  # another process cleaned it first
  return removed


def _remove_quietly(path):
  try:
    if tf.io.gfile.isdir(path):
      tf.io.gfile.rmtree(path)
    elif tf.io.gfile.exists(path):
      tf.io.gfile.remove(path)
  except (tf.errors.OpError, OSError):
    pass


@contextlib.contextmanager
def atomic_path(path, tag=None):
  """Yields a temporary path to write; renames it onto `path` on success.

  The temporary may be written as a file or as a directory (e.g. a
  SavedModel); an existing directory at `path` is replaced.

  On an exception inside the block the temporary is removed and the
  exception propagates; `path` is untouched. The parent directory is created.
  Stale temporaries of dead processes for `path` are removed first.

  Args:
    path: final file or directory path.
    tag: optional extra tag in the temporary name.

  Yields:
    the temporary path (same directory as `path`).
  """
  parent = os.path.dirname(path)
  if parent:
    tf.io.gfile.makedirs(parent)
  remove_stale_temporaries(path)
  tmp = temp_path(path, tag)
  try:
    yield tmp
    if tf.io.gfile.isdir(tmp):
      _replace_directory(tmp, path)
    else:
      tf.io.gfile.rename(tmp, path, overwrite=True)
  except BaseException:
    _remove_quietly(tmp)
    raise


def _replace_directory(tmp, path):
  """Renames directory `tmp` onto `path`, replacing an existing `path`."""
  if not tf.io.gfile.exists(path):
    tf.io.gfile.rename(tmp, path)
    return
  old = temp_path(path, 'old')
  tf.io.gfile.rename(path, old)
  try:
    tf.io.gfile.rename(tmp, path)
  except BaseException:
    tf.io.gfile.rename(old, path)  # put the previous output back
    raise
  _remove_quietly(old)


def write_bytes(path, data):
  """Writes `data` (bytes) to `path` atomically. Returns `path`."""
  with atomic_path(path) as tmp:
    with tf.io.gfile.GFile(tmp, 'wb') as f:
      f.write(data)
  return path


def write_text(path, text):
  """Writes `text` (str, UTF-8) to `path` atomically. Returns `path`."""
  return write_bytes(path, text.encode('utf-8'))


def write_json(path, obj, **dump_kwargs):
  """Writes `json.dumps(obj, **dump_kwargs)` to `path` atomically."""
  return write_text(path, json.dumps(obj, **dump_kwargs))


def write_image(path, image, image_format='PNG'):
  """Writes uint8 `[H, W, 3]` / `[H, W]` `image` (NumPy) encoded atomically.

  Args:
    path: output file.
    image: uint8 array `[H, W, 3]` (RGB) or `[H, W]` (gray).
    image_format: PIL format name ('PNG', 'JPEG').

  Returns:
    `path`.
  """
  buffer = io.BytesIO()
  Image.fromarray(np.asarray(image, np.uint8)).save(buffer,
                                                    format=image_format)
  return write_bytes(path, buffer.getvalue())
