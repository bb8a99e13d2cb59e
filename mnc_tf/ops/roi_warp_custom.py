"""Loader of the compiled RoI-warp op (`MncTf>RoiWarp`) and its gradient.

The shared library is built by `make install` (`custom_ops/build_op.py`) into
`mnc_tf/ops/_roi_warp_ops.so`.  Loading is lazy: importing this module never
fails, `load()` returns None when the library is absent, damaged (a cut-off
copy is caught before `dlopen`, which would die of SIGBUS on it) or
unloadable, and `load_error()` says why; the pure-TF twin then runs.
"""

import os
import platform
import struct
import sys
import threading

import tensorflow as tf

LIBRARY_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            '_roi_warp_ops.so')

_lock = threading.Lock()
_state = {'module': None, 'error': None, 'tried': False}


# CPU features the portable x86-64 build (-march=x86-64-v3, see
# custom_ops/build_op.py) needs; a native build needs at least these here.
REQUIRED_X86_FLAGS = ('avx2', 'fma')


def missing_cpu_features(cpuinfo_path='/proc/cpuinfo'):
  """REQUIRED_X86_FLAGS this x86-64 Linux CPU lacks ([] elsewhere/unknown)."""
  if platform.machine().lower() not in ('x86_64', 'amd64'):
    return []
  try:
    with open(cpuinfo_path) as f:
      for line in f:
        if line.startswith('flags'):
          have = set(line.split(':', 1)[1].split())
          return [flag for flag in REQUIRED_X86_FLAGS if flag not in have]
  except OSError:
    pass
  return []


def elf_problem(path):
  """Why the shared library at `path` would crash `dlopen`, or None.

  A cut-off copy of a shared library kills the process with SIGBUS when the
  loader maps it; the ELF headers say how long the file must be. Only ELF
  files (Linux) are checked; anything else returns None.

  Args:
    path: the shared library.

  Returns:
    a short reason ('truncated: ...', 'not an ELF shared library') or None.
  """
  if not sys.platform.startswith('linux'):
    return None
  try:
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
      header = f.read(64)
      if len(header) < 64 or header[:4] != b'\x7fELF':
        return 'not an ELF shared library (damaged or of the wrong kind)'
      if header[4] != 2 or header[5] != 1:  # 64-bit, little-endian only
        return None
      phoff, shoff = struct.unpack_from('<QQ', header, 0x20)
      phentsize, phnum, shentsize, shnum = struct.unpack_from('<HHHH', header,
                                                              0x36)
      needed = max(shoff + shentsize * shnum, phoff + phentsize * phnum)
      if phoff + phentsize * phnum <= size:
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        for i in range(phnum):
          offset, _, _, filesz = struct.unpack_from('<QQQQ', table,
                                                    i * phentsize + 8)
          needed = max(needed, offset + filesz)
  except OSError as e:
    return f'unreadable ({e.strerror})'
  if size < needed:
    return f'truncated ({size} bytes; its headers need {needed})'
  return None


def load():
  """Returns the loaded op module, or None if the library cannot be loaded."""
  with _lock:
    if not _state['tried']:
      _state['tried'] = True
      missing = missing_cpu_features()
      if missing:
        _state['error'] = (f'this CPU lacks {", ".join(missing)}, which the '
                           f'compiled op ({LIBRARY_PATH}) needs; the pure-TF '
                           'twin runs instead')
      elif not os.path.exists(LIBRARY_PATH):
        _state['error'] = (f'{LIBRARY_PATH} does not exist; run `make install` '
                           '(or `python setup.py build_op`) to compile it')
      elif elf_problem(LIBRARY_PATH):
        _state['error'] = (f'{LIBRARY_PATH} is {elf_problem(LIBRARY_PATH)}; '
                           'run `make install` (or `python setup.py '
                           'build_op`) to compile it again')
      else:
        try:
          _state['module'] = tf.load_op_library(LIBRARY_PATH)
        except (tf.errors.NotFoundError, OSError) as e:  # ABI mismatch etc.
          _state['error'] = f'could not load {LIBRARY_PATH}: {e}'
    return _state['module']


def load_error():
  """Why `load()` returned None (None if it did not)."""
  load()
  return _state['error']


def argmax_dtype(output_size, pooled_size):
  """dtype of the op's argmax: uint8 when the window indices fit, else int32.

  With pooled_size P > 0 the argmax holds, per output element, the index
  di * w + dj of the chosen sample inside its cell's w x w window
  (w = output_size // P), so it needs w^2 <= 256 distinct values for uint8:
  a quarter of the memory of int32 (for MNC's 28 -> 14 pool, w^2 = 4).
  """
  window = output_size // pooled_size if pooled_size else 1
  return tf.uint8 if window * window <= 256 else tf.int32


def roi_warp_custom(features, boxes, output_size, spatial_scale, pooled_size):
  """Calls the compiled op; see `mnc_tf.ops.roi_warp` for the arguments."""
  module = load()
  if module is None:
    raise tf.errors.NotFoundError(None, None, load_error())
  output, _ = module.mnc_tf_roi_warp(
      features=features, boxes=boxes, output_size=output_size,
      spatial_scale=spatial_scale, pooled_size=pooled_size,
      Targmax=argmax_dtype(output_size, pooled_size))
  return output


@tf.RegisterGradient('MncTf>RoiWarp')
def _roi_warp_grad(op, grad, unused_argmax_grad):
  """Gradient w.r.t. features and w.r.t. the four box coordinates."""
  module = load()
  features, boxes = op.inputs
  argmax = op.outputs[1]
  grad_features, grad_boxes = module.mnc_tf_roi_warp_grad(
      grad=grad, features=features, boxes=boxes, argmax=argmax,
      output_size=op.get_attr('output_size'),
      spatial_scale=op.get_attr('spatial_scale'),
      pooled_size=op.get_attr('pooled_size'))
  return grad_features, grad_boxes
