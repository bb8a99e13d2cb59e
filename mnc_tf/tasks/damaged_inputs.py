# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""train.py's damaged files: checkpoints before the run, records during it.

`check_checkpoints(model_dir, params)` runs before anything is built: the
checkpoint a run resumes from (the newest in `model_dir`) and
`task.init_checkpoint` must be complete; `check_compiled_op(params)`: a
forced `roi_warp_implementation: custom` needs a loadable compiled op.
`explain_read_error(error, params, mode)` turns a failed read of the
training or validation TFRecords into one line naming the file and the
record (TensorFlow's error names neither).
"""
import os

import tensorflow as tf

from mnc_tf.data import decoder as decoder_lib
from mnc_tf.data import input_pipeline
from mnc_tf.ops import roi_warp_custom
from mnc_tf.utils import checkpoints
from mnc_tf.utils import damaged_files


def _earlier_checkpoints(model_dir, prefix):
  """Prefixes of the other complete-looking checkpoints in `model_dir`."""
  indexes = tf.io.gfile.glob(os.path.join(model_dir, 'ckpt-*.index'))
  others = [p[:-len('.index')] for p in indexes
            if p[:-len('.index')] != prefix]
  return sorted(others, key=checkpoints.step_of)


def _latest_checkpoint(model_dir):
  """The checkpoint a run in `model_dir` resumes from (None: from scratch).

  Raises:
    damaged_files.DamagedFileError: the `checkpoint` state file is missing,
      unreadable or names no existing checkpoint although `ckpt-N` files
      are there (the run would start from scratch and overwrite them).
  """
  state = os.path.join(model_dir, 'checkpoint')
  try:
    latest = tf.train.latest_checkpoint(model_dir)
    problem = None
  except (tf.errors.OpError, ValueError) as e:
    latest, problem = None, f'unreadable ({damaged_files.first_line(e)})'
  saved = _earlier_checkpoints(model_dir, None)
  if latest or not saved:
    return latest
  if problem is None:
    problem = ('names no existing checkpoint' if tf.io.gfile.exists(state)
               else 'missing')
  newest = os.path.basename(saved[-1])
  raise damaged_files.DamagedFileError(
      state, f'the checkpoint state file is {problem}, although {newest} is '
      'there (training would start from scratch and overwrite the '
      'checkpoints)', f"write it again: echo 'model_checkpoint_path: "
      f'"{newest}"\' > {state}')


def check_checkpoints(model_dir, params):
  """Raises if the checkpoint the run resumes from or starts from is damaged.

  Args:
    model_dir: `--model_dir`.
    params: the resolved experiment params (`task.init_checkpoint`).

  Raises:
    damaged_files.DamagedFileError: one line naming the damaged file; for a
      damaged newest checkpoint in `model_dir` it names the previous one to
      resume from; for a damaged `checkpoint` state file (which would make
      the run start from scratch over the saved checkpoints) the newest
      checkpoint to write into it.
  """
  latest = _latest_checkpoint(model_dir)
  if latest:
    earlier = _earlier_checkpoints(model_dir, latest)
    if earlier:
      previous = os.path.basename(earlier[-1])
      fix = (f'delete {os.path.basename(latest)}.* and write '
             f'model_checkpoint_path: "{previous}" into '
             f'{os.path.join(model_dir, "checkpoint")} to resume from '
             f'{previous}')
    else:
      fix = (f'delete {os.path.basename(latest)}.* and the `checkpoint` file '
             'to start from scratch')
    damaged_files.check_checkpoint(latest, fix=fix)
  init = params.task.init_checkpoint
  if init:
    try:
      prefix = checkpoints.resolve_checkpoint(init)
    except checkpoints.CheckpointNotFoundError as e:
      raise damaged_files.DamagedFileError(
          init, f'task.init_checkpoint names no checkpoint ({e})',
          'fix task.init_checkpoint') from None
    damaged_files.check_checkpoint(
        prefix, fix='copy the checkpoint again or fix task.init_checkpoint')


def check_compiled_op(params):
  """Raises if the model asks for the compiled RoI warp and it cannot load.

  With `roi_warp_implementation: auto` (the default) a missing or damaged
  `_roi_warp_ops.so` only means the pure-TF twin runs; with `custom` the run
  would fail while building the model.

  Raises:
    damaged_files.DamagedFileError: naming the library and why.
  """
  if params.task.model.roi_warp_implementation != 'custom':
    return
  if roi_warp_custom.load() is None:
    raise damaged_files.DamagedFileError(
        roi_warp_custom.LIBRARY_PATH,
        'task.model.roi_warp_implementation=custom needs the compiled op, '
        f'which cannot be used ({roi_warp_custom.load_error()})',
        'or set task.model.roi_warp_implementation=auto to run the pure-TF '
        'twin')


def _read_errors():
  return (tf.errors.DataLossError, tf.errors.InvalidArgumentError,
          tf.errors.OutOfRangeError, tf.errors.NotFoundError)


def explain_read_error(error, params, mode):
  """The damaged record behind `error`, or None if the inputs read fine.

  Reads the inputs `mode` uses, file by file (training data for the train
  modes, validation data for the eval modes), decoding every record with the
  pipeline's decoder. Only called after a run failed, so the cost of one
  pass over the data is paid only then.

  Args:
    error: the exception the run ended with.
    params: the resolved experiment params.
    mode: train.py's `--mode`.

  Returns:
    `damaged_files.DamagedFileError` naming the file and record, or None
    (the error is not a damaged input: let it propagate).
  """
  if not isinstance(error, _read_errors()):
    return None
  sections = []
  if 'train' in mode:
    sections.append(params.task.train_data)
  if 'eval' in mode:
    sections.append(params.task.validation_data)
  decode = decoder_lib.Decoder().decode
  for data in sections:
    try:
      files = input_pipeline.match_files(data.input_path)
    except ValueError:
      continue
    found = damaged_files.find_damaged_record(files, decode)
    if found is not None:
      return found
  return None
