# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Writes the SavedModel of an MNC experiment (Model Garden's export flow).

Uses `official.core.export_base.export` (checkpoint restore with
`assert_existing_objects_matched`, `tf.saved_model.save`) into a temporary
directory next to the target, and renames it into place when complete.
"""
import os
import shutil
import time

import tensorflow as tf

from mnc_tf.configs import mnc_experiments  # pylint: disable=unused-import
from mnc_tf.serving import export_module as export_module_lib
from official.core import exp_factory
from official.core import export_base
from official.modeling import hyperparams
from tf_keras.src.saving.legacy.saved_model import utils as keras_save_utils

DEFAULT_SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY


def experiment_params(experiment, config_files=None, params_override=''):
  """The experiment config with files and overrides applied, validated."""
  params = exp_factory.get_exp_config(experiment)
  for config_file in config_files or []:
    params = hyperparams.override_params_dict(params, config_file,
                                              is_strict=True)
  if params_override:
    params = hyperparams.override_params_dict(params, params_override,
                                              is_strict=True)
  params.validate()
  params.lock()
  return params



class ExportExistsError(FileExistsError):
  """The export directory exists and overwriting was not asked for."""


def signature_keys(input_type):
  """{function key: signature name}: one named signature per input type."""
  if input_type not in export_module_lib.INPUT_TYPES:
    raise ValueError(f'input_type must be one of '
                     f'{export_module_lib.INPUT_TYPES}, got {input_type!r}.')
  return {key: key for key in export_module_lib.INPUT_TYPES}


def export_saved_model(params, export_dir, checkpoint_path=None,
                       input_type='image_tensor', batch_size=1,
                       overwrite=False, model=None):
  """Exports `params`' model (weights from `checkpoint_path`) to `export_dir`.

  Args:
    params: `cfg.ExperimentConfig` of an MNC experiment.
    export_dir: the SavedModel directory to create.
    checkpoint_path: a checkpoint file or a directory (its newest checkpoint)
      written by `train.py`; None exports the freshly initialized model.
    input_type: the input of `serving_default` (`image_tensor`,
      `image_bytes` or `tf_example`); each also has its own named signature.
    batch_size: static batch size of the signatures (None: any).
    overwrite: replace an existing `export_dir`.
    model: optional prebuilt model (with a stock-op RoI warp:
      'crop_and_resize' or 'tf').

  Returns:
    `export_dir`.

  Raises:
    ExportExistsError: `export_dir` exists and `overwrite` is False.
    ValueError: bad input type or a checkpoint directory without checkpoints.
  """
  keys = signature_keys(input_type)
  export_dir = os.path.abspath(export_dir)
  if tf.io.gfile.exists(export_dir) and not overwrite:
    raise ExportExistsError(
        f'{export_dir} exists; pass --overwrite to replace it.')
  if checkpoint_path and tf.io.gfile.isdir(checkpoint_path):
    latest = tf.train.latest_checkpoint(checkpoint_path)
    if not latest:
      raise ValueError(f'no checkpoint in directory {checkpoint_path}.')
    checkpoint_path = latest
  module = export_module_lib.MncExportModule(
      params, batch_size=batch_size, input_type=input_type, model=model)
  parent = os.path.dirname(export_dir)
  tf.io.gfile.makedirs(parent)
  tmp_dir = os.path.join(
      parent, f'.{os.path.basename(export_dir)}.tmp-{os.getpid()}-'
      f'{int(time.time())}')
  try:
    # The signatures carry the whole pipeline; Keras' own traces of every
    # layer's call (with training=True, which needs groundtruth) are not
    # wanted in the SavedModel.
    with keras_save_utils.keras_option_scope(save_traces=False):
      export_base.export(module, keys, tmp_dir,
                         checkpoint_path=checkpoint_path or None,
                         timestamped=False)
    if tf.io.gfile.exists(export_dir):
      shutil.rmtree(export_dir)
    os.replace(tmp_dir, export_dir)
  finally:
    if os.path.exists(tmp_dir):
      shutil.rmtree(tmp_dir, ignore_errors=True)
  return export_dir
