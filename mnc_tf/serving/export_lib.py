# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Writes the SavedModel of an MNC experiment (Model Garden's export flow).

Follows `official.core.export_base.export` (checkpoint restore with
`assert_existing_objects_matched`, signatures traced by the export module,
`tf.saved_model.save`; see `save` for the one difference) into a temporary
directory next to the target (`mnc_tf.utils.atomic_io`), and renames it into
place when complete; temporaries left by a killed export are removed first.
"""
import os

import tensorflow as tf

from mnc_tf import registry_imports  # pylint: disable=unused-import
from mnc_tf.configs import experiment_params as experiment_params_lib
from mnc_tf.serving import export_module as export_module_lib
from mnc_tf.utils import atomic_io
from mnc_tf.utils import checkpoints

DEFAULT_SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY


INPUT_TYPES = export_module_lib.INPUT_TYPES


def experiment_params(experiment, config_files=None, params_override=''):
  """The experiment config with files and overrides applied, validated.

  Raises:
    experiment_params.ParamsError: unknown experiment, key or a value of the
      wrong type (one-line message).
  """
  return experiment_params_lib.parse(experiment, config_files or [],
                                     params_override)


class ExportExistsError(FileExistsError):
  """The export directory exists and overwriting was not asked for."""


def signature_keys():
  """{function key: signature name}: one named signature per input type."""
  return {key: key for key in INPUT_TYPES}


def save(module, export_dir, checkpoint_path=None):
  """Writes `module`'s signatures and the model's variables to `export_dir`.

  Model Garden's `export_base.export` saves the export module itself, so
  `tf.saved_model.save` reaches the Keras model and Keras traces every layer's
  `call` for the SavedModel, with `training=True` too, which the MNC model
  cannot run without groundtruth. The signatures carry the whole pipeline,
  so the root saved here is a plain `tf.Module` holding the traced signatures'
  variables (the model's), and no Keras object: stock `tf.saved_model` APIs
  only.

  Args:
    module: an `MncExportModule`.
    export_dir: the directory to write (must not exist).
    checkpoint_path: a checkpoint prefix to read the weights from (every
      model variable must be matched), or None.
  """
  if checkpoint_path:
    tf.train.Checkpoint(model=module.model).read(
        checkpoint_path).assert_existing_objects_matched().expect_partial()
  signatures = module.get_inference_signatures(signature_keys())
  root = tf.Module()
  root.model_variables = list(module.model.variables)
  tf.saved_model.save(root, export_dir, signatures=signatures)


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
    checkpoints.CheckpointNotFoundError: `checkpoint_path` names no
      checkpoint (checked before anything is built or written).
    ValueError: bad input type.
  """
  if input_type not in INPUT_TYPES:
    raise ValueError(f'input_type must be one of {INPUT_TYPES}, got '
                     f'{input_type!r}.')
  export_dir = os.path.abspath(export_dir)
  if tf.io.gfile.exists(export_dir) and not overwrite:
    raise ExportExistsError(
        f'{export_dir} exists; pass --overwrite to replace it.')
  if checkpoint_path:
    checkpoint_path = checkpoints.resolve_checkpoint(checkpoint_path)
  module = export_module_lib.MncExportModule(
      params, batch_size=batch_size, input_type=input_type, model=model)
  with atomic_io.atomic_path(export_dir) as tmp_dir:
    save(module, tmp_dir, checkpoint_path)
  return export_dir
