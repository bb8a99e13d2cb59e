# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""`make demo`: the whole job end to end on the synthetic shapes.

    python -m tools.demo [--output_dir=demo_out] [--num_train=1000] \
        [--train_steps=0] [--keep_model]

1. writes the synthetic data set (images + COCO JSON) and converts it to
   TFRecords (`python -m mnc_tf.data.synthetic_shapes`,
   `python -m mnc_tf.data.create_coco_tfrecord`);
2. trains the `mnc_shapes_demo` experiment with `train.py`
   (`--flagfile=configs/mnc_shapes_demo.flags`, mode train_and_eval), which
   evaluates on the validation split (COCO mask / box AP, SDS mAP^r) and draws
   predictions;
3. prints the evaluation, checks mask AP50 against the target (0.8), and
   where the pictures, the TensorBoard logs and the metrics are;
4. exports the trained model as a SavedModel
   (`export/export_saved_model.py`) and runs `python -m mnc_tf.predict` with
   it on the validation images (pictures + COCO results JSON).

Exit status 0 when mask AP50 reaches the target, 1 otherwise. The steps live
in `tools/demo_lib.py`; run from the repository root.
"""
import sys

from absl import app
from absl import flags

from tools import demo_lib


def define_flags(flag_values=flags.FLAGS):
  """Defines the demo's flags (called by `__main__`, as Model Garden does)."""
  flags.DEFINE_string('output_dir', demo_lib.DEFAULT_OUTPUT_DIR,
                      'Where data, model, SavedModel and predictions go.',
                      flag_values=flag_values)
  flags.DEFINE_integer('num_train', 1000, 'Synthetic training images.',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_integer('num_val', 50, 'Synthetic validation images.',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_integer('seed', 0, 'Seed of the synthetic data set.',
                       flag_values=flag_values)
  flags.DEFINE_integer('train_steps', 0,
                       'Training steps; 0: the experiment default.',
                       lower_bound=0, flag_values=flag_values)
  flags.DEFINE_string('params_override', '',
                      'Extra train.py overrides (comma-separated).',
                      flag_values=flag_values)
  flags.DEFINE_bool('keep_model', False,
                    'Resume the previous demo model instead of training a '
                    'fresh one.', flag_values=flag_values)
  flags.DEFINE_bool('regenerate_data', False,
                    'Rewrite the synthetic data set even if it exists.',
                    flag_values=flag_values)


def main(argv, flag_values=flags.FLAGS):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  return demo_lib.run_demo(
      flag_values.output_dir, num_train=flag_values.num_train,
      num_val=flag_values.num_val, seed=flag_values.seed,
      train_steps=flag_values.train_steps,
      params_override=flag_values.params_override,
      keep_model=flag_values.keep_model,
      regenerate_data=flag_values.regenerate_data)


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(main(argv)))
