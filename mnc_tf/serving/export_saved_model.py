# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Exports an MNC experiment as a SavedModel for TF Serving (the CLI).

    python export/export_saved_model.py --experiment=mnc_shapes_demo \
        --checkpoint_path=demo_out/model --export_dir=demo_out/saved_model \
        [--config_file=...] [--params_override=...] \
        [--input_type=image_tensor|image_bytes|tf_example] [--batch_size=1] \
        [--overwrite]

(also `python -m mnc_tf.serving.export_saved_model`). Model Garden's export
flags (`official/vision/serving/export_saved_model.py`). The SavedModel holds
`serving_default` (input `--input_type`) and one named signature per input
type (`image_tensor`, `image_bytes`, `tf_example`); the graph contains only
stock TensorFlow ops (the RoI warp as one crop_and_resize). It is written to a
temporary directory and renamed when complete (temporaries of a killed export
are removed by the next export to the same directory); an existing
`--export_dir` is kept unless `--overwrite`. Bad flags, overrides or
checkpoint paths, and a damaged checkpoint (`mnc_tf.utils.damaged_files`: a
missing or cut-off index or data shard), end in one line on stderr and exit
status 1, before anything is written.
"""
import sys

from absl import app
from absl import flags
from absl import logging

from mnc_tf import registry_imports  # pylint: disable=unused-import
from mnc_tf.configs import experiment_params
from mnc_tf.serving import export_lib
from mnc_tf.utils import checkpoints
from mnc_tf.utils import damaged_files


def define_flags(flag_values=flags.FLAGS):
  """Defines the exporter's flags (called by `__main__`)."""
  flags.DEFINE_string('experiment', None,
                      'Registered experiment, e.g. mnc_shapes_demo.',
                      flag_values=flag_values)
  flags.DEFINE_string('export_dir', None,
                      'The SavedModel directory to create.',
                      flag_values=flag_values)
  flags.DEFINE_string(
      'checkpoint_path', None,
      'Checkpoint prefix (model_dir/ckpt-N) or a model_dir (its newest '
      'checkpoint). Empty: export the freshly initialized model.',
      flag_values=flag_values)
  flags.DEFINE_multi_string(
      'config_file', None,
      'YAML/JSON files overriding the experiment, applied in order before '
      '--params_override.', flag_values=flag_values)
  flags.DEFINE_string(
      'params_override', '',
      'Comma-separated overrides or a YAML/JSON string, e.g. '
      '"task.model.detection_generator.max_num_detections=50".',
      flag_values=flag_values)
  flags.DEFINE_enum(
      'input_type', 'image_tensor', list(export_lib.INPUT_TYPES),
      'Input of the serving_default signature.', flag_values=flag_values)
  flags.DEFINE_integer('batch_size', 1,
                       'Static batch size of the signatures (0: any).',
                       lower_bound=0, flag_values=flag_values)
  flags.DEFINE_bool('overwrite', False, 'Replace an existing --export_dir.',
                    flag_values=flag_values)


def main(argv, flag_values=flags.FLAGS) -> int:
  """Exports; returns the exit status (1 with a one-line error on stderr)."""
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  try:
    if not flag_values.export_dir:
      raise experiment_params.ParamsError('--export_dir is required (the SavedModel directory '
                       'to create).')
    params = experiment_params.parse(flag_values.experiment,
                                     flag_values.config_file or [],
                                     flag_values.params_override)
    checkpoint = None
    if flag_values.checkpoint_path:
      checkpoint = checkpoints.resolve_checkpoint(flag_values.checkpoint_path)
      damaged_files.check_checkpoint(checkpoint)
    path = export_lib.export_saved_model(
        params, flag_values.export_dir, checkpoint_path=checkpoint,
        input_type=flag_values.input_type,
        batch_size=flag_values.batch_size or None,
        overwrite=flag_values.overwrite)
  except (experiment_params.ParamsError, checkpoints.CheckpointNotFoundError,
          export_lib.ExportExistsError, damaged_files.DamagedFileError) as e:
    print(f'export_saved_model: error: {e}', file=sys.stderr)
    return 1
  print(f'SavedModel written to {path}')
  return 0


def _main_quiet(argv):
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)  # SavedModel-writing INFO chatter
  sys.exit(main(argv))


def run():
  """The console entry point (INFO logs with `--verbosity=0`)."""
  define_flags()
  app.run(_main_quiet)


if __name__ == '__main__':
  run()
