# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Finds the checkpoint a user means: a prefix, or the newest in a directory."""
import os
import re

import tensorflow as tf


class CheckpointNotFoundError(ValueError):
  """The path names no checkpoint; the message names the path and the fix."""


def step_of(prefix):
  """The N of a `.../ckpt-N` prefix (-1 when it has none)."""
  match = re.search(r'-(\d+)$', prefix)
  return int(match.group(1)) if match else -1


def resolve_checkpoint(path):
  """The checkpoint prefix that `path` names.

  Args:
    path: a checkpoint prefix (`model_dir/ckpt-30`, the files being
      `ckpt-30.index` and `ckpt-30.data-*`) or a directory holding
      checkpoints (its newest one: per the `checkpoint` state file, else the
      highest `-N` among `*.index` files).

  Returns:
    the checkpoint prefix (str).

  Raises:
    CheckpointNotFoundError: nothing at `path`, or a directory without any
      checkpoint, or a prefix whose `.index` file is missing.
  """
  if not path:
    raise CheckpointNotFoundError('no checkpoint path given.')
  path = os.fspath(path)
  if tf.io.gfile.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if latest:
      return latest
    indexes = tf.io.gfile.glob(os.path.join(path, '*.index'))
    if indexes:
      prefixes = [p[:-len('.index')] for p in indexes]
      return max(prefixes, key=lambda p: (step_of(p), p))
    raise CheckpointNotFoundError(
        f'no checkpoint in directory {path} (expected ckpt-N.index files '
        'written by train.py); pass the model_dir of a training run or a '
        'checkpoint prefix such as model_dir/ckpt-30.')
  if tf.io.gfile.exists(path + '.index'):
    return path
  if tf.io.gfile.exists(path) and path.endswith('.index'):
    return path[:-len('.index')]
  parent = os.path.dirname(path) or '.'
  hint = ''
  if tf.io.gfile.isdir(parent):
    found = sorted(tf.io.gfile.glob(os.path.join(parent, '*.index')))
    if found:
      hint = ('; checkpoints there: ' + ', '.join(
          os.path.basename(p)[:-len('.index')] for p in found[-3:]))
  raise CheckpointNotFoundError(
      f'checkpoint {path} does not exist (no {os.path.basename(path)}.index)'
      f'{hint}; pass a training model_dir or an existing checkpoint prefix.')
