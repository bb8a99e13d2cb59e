# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Damages files the way disks, copies and killed jobs do (for the tests)."""
import os
import shutil

import numpy as np
import tensorflow as tf


def truncate(path, keep=0.5):
  """Cuts `path` to `keep` of its size (a float) or to `keep` bytes (int)."""
  size = os.path.getsize(path)
  with open(path, 'r+b') as f:
    f.truncate(int(size * keep) if isinstance(keep, float) else keep)


def scribble(path):
  """Overwrites `path` with text: a file of the wrong kind."""
  with open(path, 'w') as f:
    f.write('not what this file should hold\n' * 4)


def flip_byte(path, at=0.6):
  """Inverts the byte at fraction `at` of `path`."""
  data = bytearray(open(path, 'rb').read())
  data[int(len(data) * at)] ^= 0xff
  with open(path, 'wb') as f:
    f.write(bytes(data))


def write_bytes(path, data):
  """Replaces `path` (a file or a directory) by a file holding `data`."""
  if os.path.isdir(path):
    shutil.rmtree(path)
  with open(path, 'wb') as f:
    f.write(data)


def make_directory(path):
  """Replaces the file `path` by an empty directory."""
  if os.path.exists(path):
    os.remove(path)
  os.makedirs(path)


class Doubler(tf.Module):
  """A small SavedModel-able module with one 20 kB variable."""

  def __init__(self):
    super().__init__()
    self.scale = tf.Variable(np.full([5000], 2.0, np.float32))

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
  def __call__(self, x):
    return x * self.scale[0]
