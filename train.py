# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Trains and evaluates MNC with Model Garden's machinery.

    python train.py --flagfile=configs/mnc_shapes_demo.flags
    python train.py --experiment=mnc_vgg16_voc --mode=train_and_eval \
        --model_dir=/tmp/mnc_voc \
        --config_file=configs/experiments/mnc_vgg16_voc.yaml \
        --params_override='runtime.distribution_strategy=mirrored,runtime.num_gpus=8'

Flags (Model Garden's, `official.common.flags`): `--experiment` (a registered
experiment: mnc_vgg16_voc, mnc_resnet101_coco, mnc_resnet50_coco,
mnc_shapes_demo, mnc_custom_data), `--config_file` (repeatable YAML overrides, applied in
order), `--params_override` (YAML/JSON string or file, applied last),
`--mode` (train, eval, train_and_eval, continuous_eval), `--model_dir`, and
`--flagfile` (absl). Distribution comes from the `runtime` section:
`distribution_strategy` = one_device | mirrored | multi_worker_mirrored | tpu,
`num_gpus`, `worker_hosts` + `task_index` (or the TF_CONFIG environment
variable) for several machines, `tpu` (or `--tpu`). With several machines,
`--heartbeat_timeout` and `--collective_timeout` bound how long the others
wait for a lost worker before ending with one line that names it and the
command to relaunch (docs/multi_worker.md).

Console: one progress line per loop of `trainer.steps_per_loop` steps (step,
losses, learning rate, steps/s, ETA) and one metrics table per evaluation;
Model Garden's INFO logs are shown with `--verbosity=0`. Bad flags or
overrides end in one line naming the input, exit status 1, before anything is
written; so do a damaged checkpoint to resume or start from, and a damaged
TFRecord (the line names the file and the record; `docs/troubleshooting.md`).

The resolved params go to `<model_dir>/params.yaml`. Training resumes from
the newest checkpoint in `model_dir` (a killed job loses only the steps after
its last checkpoint). TensorBoard logs: `<model_dir>/train` and
`<model_dir>/validation`; every evaluation is also appended to
`<model_dir>/eval_metrics.json`.
"""
import os
import sys

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from official.common import distribute_utils
from official.common import flags as tfm_flags
from official.core import task_factory
from official.core import train_lib
from official.core import train_utils
from official.modeling import performance
from official.vision.utils import summary_manager

from mnc_tf import registry_imports  # pylint: disable=unused-import
from mnc_tf.configs import experiment_params
from mnc_tf.tasks import damaged_inputs
from mnc_tf.tasks import peer_checkpoints
from mnc_tf.tasks import peer_failures
from mnc_tf.tasks import progress
from mnc_tf.tasks import runner
from mnc_tf.utils import cli
from mnc_tf.utils import damaged_files

FLAGS = flags.FLAGS


def _is_chief(strategy) -> bool:
  """True unless this process is a non-chief worker of a multi-worker job."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not resolver.cluster_spec().as_dict():
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  if task_type == 'chief':
    return True
  has_chief = 'chief' in resolver.cluster_spec().as_dict()
  return task_type in (None, 'worker') and not has_chief and task_id in (
      None, 0)


MODES = ('train', 'eval', 'train_and_eval', 'continuous_eval')


def parse_params(flags_obj):
  """Checks the flags and resolves the params; writes nothing.

  Returns:
    the validated, locked `cfg.ExperimentConfig`.

  Raises:
    experiment_params.ParamsError: a missing flag, an unknown experiment or
      key, a value of the wrong type, or input files that do not exist; the
      message is one line naming the input and the fix.
  """
  if not flags_obj.model_dir:
    raise experiment_params.ParamsError(
        '--model_dir is required (where checkpoints, params.yaml and the '
        'TensorBoard logs go).')
  if flags_obj.mode not in MODES:
    raise experiment_params.ParamsError(
        f'--mode={flags_obj.mode or ""} must be one of {", ".join(MODES)}.')
  return experiment_params.parse_flags(flags_obj)


def check_eval_checkpoint(flags_obj, params):
  """Refuses `--mode=eval` when there is nothing trained to evaluate.

  Orbit would evaluate the randomly initialized model and report zeros.

  Raises:
    experiment_params.ParamsError: `--mode=eval`, no checkpoint in
      `--model_dir` and no `task.init_checkpoint`.
  """
  if (flags_obj.mode == 'eval' and not params.task.init_checkpoint and
      not tf.train.latest_checkpoint(flags_obj.model_dir)):
    raise experiment_params.ParamsError(
        f'--mode=eval found no checkpoint in --model_dir={flags_obj.model_dir}'
        ' (give the directory a training run wrote, or set '
        'task.init_checkpoint).')


def run(flags_obj, params=None):
  """Resolves the params from `flags_obj` (unless given) and runs `--mode`.

  Progress goes to stdout as one line per loop (`progress.ProgressPrinter`)
  and each evaluation as one table (`progress.MetricsTablePrinter`); Orbit's
  own dumps of the output dicts are dropped (`progress.quiet_orbit_outputs`).

  Returns:
    What `train_lib.run_experiment` returns: (model, {}).
  """
  if params is None:
    params = parse_params(flags_obj)
  model_dir = flags_obj.model_dir
  mode = flags_obj.mode

  if params.runtime.mixed_precision_dtype:
    performance.set_mixed_precision_policy(
        params.runtime.mixed_precision_dtype)
  distribute_utils.configure_cluster(params.runtime.worker_hosts,
                                     params.runtime.task_index)
  if params.runtime.distribution_strategy == 'multi_worker_mirrored':
    peer_failures.configure_failure_detection(flags_obj.heartbeat_timeout)
  strategy = peer_failures.get_strategy(params.runtime,
                                        flags_obj.collective_timeout)
  chief = _is_chief(strategy)
  # A non-chief training worker writes into a private directory, removed at
  # the end, and restores from the chief's model_dir.
  write_dir = model_dir
  if 'train' in mode and not chief:
    write_dir = peer_checkpoints.private_directory(
        strategy.cluster_resolver.task_type, strategy.cluster_resolver.task_id)
  try:
    return _run_experiment(params, mode, strategy, chief, model_dir, write_dir)
  finally:
    if write_dir != model_dir:
      peer_checkpoints.remove_directory(write_dir)


def _run_experiment(params, mode, strategy, chief, model_dir, write_dir):
  """Builds the task, trainer and runner; `write_dir` gets what is written."""
  if 'train' in mode and chief:
    # Pure evaluation jobs do not write it: they may run beside the trainer.
    train_utils.serialize_config(params, model_dir)
  print(f'train.py: {params.runtime.distribution_strategy} '
        f'({type(strategy).__name__}) with '
        f'{strategy.num_replicas_in_sync} replica(s); chief: {chief}',
        flush=True)
  latest = tf.train.latest_checkpoint(model_dir)
  if 'train' in mode and chief and latest:
    # Orbit restores it (an INFO log, hidden at the default verbosity).
    print(f'train.py: resuming from checkpoint {latest}', flush=True)

  with strategy.scope():
    task = task_factory.get_task(params.task, logging_dir=write_dir)
    trainer = train_utils.create_trainer(
        params, task, train='train' in mode,
        evaluate='eval' in mode,
        checkpoint_exporter=train_lib.maybe_create_best_ckpt_exporter(
            params, write_dir))
  print_fn = None if chief else (lambda line: None)
  train_actions, eval_actions = [], []
  if 'train' in mode:
    train_actions.append(progress.ProgressPrinter(
        trainer.global_step, params.trainer.train_steps, print_fn=print_fn))
  if 'eval' in mode:
    eval_actions.append(progress.MetricsTablePrinter(trainer.global_step,
                                                     print_fn=print_fn))
  experiment_runner = runner.MncExperimentRunner(
      distribution_strategy=strategy,
      task=task,
      mode=mode,
      params=params,
      model_dir=write_dir,
      chief_model_dir=None if write_dir == model_dir else model_dir,
      trainer=trainer,
      train_actions=train_actions,
      eval_actions=eval_actions,
      eval_summary_manager=summary_manager.maybe_build_eval_summary_manager(
          params=params, model_dir=write_dir),
  )
  with progress.quiet_orbit_outputs():
    return experiment_runner.run()


def _exit_if_peer_lost(error, params):
  """Ends a multi-worker job that lost a task with one line, exit status 1."""
  cluster = peer_failures.cluster_spec()
  if (params.runtime.distribution_strategy != 'multi_worker_mirrored' or
      not peer_failures.is_peer_failure(error)):
    return
  resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
  line = peer_failures.lost_peer_message(
      error, f'{resolver.task_type} {resolver.task_id}', cluster,
      tf.train.latest_checkpoint(FLAGS.model_dir), FLAGS.heartbeat_timeout,
      FLAGS.collective_timeout)
  print(f'train.py: error: {line}', file=sys.stderr, flush=True)
  sys.stdout.flush()
  # TensorFlow's teardown would wait for the lost task.
  os._exit(1)  # pylint: disable=protected-access


def main(_):
  if not FLAGS['verbosity'].present:
    # Model Garden's INFO logs repeat what the console shows (progress lines,
    # the metrics table); `--verbosity=0` brings them back.
    logging.set_verbosity(logging.WARNING)
    if FLAGS.mode in ('eval', 'continuous_eval'):
      # An evaluation restores a training checkpoint without its optimizer:
      # TF's warnings about the optimizer's unrestored slots are expected.
      tf.get_logger().setLevel('ERROR')
  try:
    params = parse_params(FLAGS)
    damaged_inputs.check_checkpoints(FLAGS.model_dir, params)
    damaged_inputs.check_compiled_op(params)
    check_eval_checkpoint(FLAGS, params)
  except (experiment_params.ParamsError, damaged_files.DamagedFileError) as e:
    sys.exit(f'train.py: error: {e}')
  try:
    run(FLAGS, params)
  except peer_failures.PEER_ERRORS as e:
    _exit_if_peer_lost(e, params)
    raise
  except peer_checkpoints.CheckpointMismatchError as e:
    sys.exit(f'train.py: error: {e}')
  except tf.errors.OpError as e:
    # A damaged TFRecord: one line naming the file and record; the newest
    # checkpoint written before it stays as it was.
    damaged = damaged_inputs.explain_read_error(e, params, FLAGS.mode)
    if damaged is None:
      raise
    sys.exit(f'train.py: error: {damaged}')
  print(f'Model directory: {os.path.abspath(FLAGS.model_dir)} (TensorBoard: '
        f'tensorboard --logdir {FLAGS.model_dir}; evaluations: '
        f'{os.path.join(FLAGS.model_dir, "eval_metrics.json")})', flush=True)


if __name__ == '__main__':
  tfm_flags.define_flags()
  peer_failures.define_flags()
  try:
    cli.check_flagfiles(sys.argv)
  except damaged_files.DamagedFileError as flagfile_error:
    sys.exit(f'train.py: error: {flagfile_error}')
  app.run(main)
