# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Exports an MNC experiment as a SavedModel for TF Serving.

    python export/export_saved_model.py --experiment=mnc_shapes_demo \
        --checkpoint_path=demo_out/model --export_dir=demo_out/saved_model \
        [--config_file=...] [--params_override=...] \
        [--input_type=image_tensor|image_bytes|tf_example] [--batch_size=1] \
        [--overwrite]

Model Garden's export flags (`official/vision/serving/export_saved_model.py`).
The SavedModel holds `serving_default` (input `--input_type`) and one named
signature per input type (`image_tensor`, `image_bytes`, `tf_example`); the
graph contains only stock TensorFlow ops (the RoI warp as one crop_and_resize). It is
written to a temporary directory and renamed when complete; an existing
`--export_dir` is kept unless `--overwrite`.
"""
import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mnc_tf.configs import mnc_experiments  # pylint: disable=unused-import,g-import-not-at-top
from mnc_tf.serving import export_lib  # pylint: disable=g-import-not-at-top

_EXPERIMENT = flags.DEFINE_string(
    'experiment', None, 'experiment name, e.g. mnc_shapes_demo')
_EXPORT_DIR = flags.DEFINE_string('export_dir', None,
                                  'The SavedModel directory to create.')
_CHECKPOINT_PATH = flags.DEFINE_string(
    'checkpoint_path', None,
    'Checkpoint file, or a model_dir (its newest checkpoint). Empty: export '
    'the freshly initialized model.')
_CONFIG_FILE = flags.DEFINE_multi_string(
    'config_file', None,
    'YAML/JSON files overriding the experiment, applied in order before '
    '--params_override.')
_PARAMS_OVERRIDE = flags.DEFINE_string(
    'params_override', '',
    'Comma-separated overrides or a YAML/JSON string, e.g. '
    '"task.model.detection.max_num_detections=50".')
_INPUT_TYPE = flags.DEFINE_enum(
    'input_type', 'image_tensor', ['image_tensor', 'image_bytes', 'tf_example'],
    'Input of the serving_default signature.')
_BATCH_SIZE = flags.DEFINE_integer(
    'batch_size', 1, 'Static batch size of the signatures (0: any).')
_OVERWRITE = flags.DEFINE_bool('overwrite', False,
                               'Replace an existing --export_dir.')


def main(_):
  if not _EXPERIMENT.value:
    raise app.UsageError('--experiment is required.')
  if not _EXPORT_DIR.value:
    raise app.UsageError('--export_dir is required.')
  params = export_lib.experiment_params(_EXPERIMENT.value, _CONFIG_FILE.value,
                             _PARAMS_OVERRIDE.value)
  try:
    path = export_lib.export_saved_model(
        params, _EXPORT_DIR.value, checkpoint_path=_CHECKPOINT_PATH.value,
        input_type=_INPUT_TYPE.value, batch_size=_BATCH_SIZE.value or None,
        overwrite=_OVERWRITE.value)
  except export_lib.ExportExistsError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  print(f'SavedModel written to {path}')
  return 0


if __name__ == '__main__':
  app.run(lambda argv: sys.exit(main(argv)))
