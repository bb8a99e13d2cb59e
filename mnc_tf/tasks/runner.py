# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Model Garden's experiment runner, without its FLOPs count.

`train_lib.OrbitExperimentRunner.run` ends every run with
`train_utils.try_count_flops(model)`, which needs `model.inputs` (a functional
Keras model) or input specs it is not given; on the subclassed MNC model it
always fails and logs "Failed to count model FLOPs ..." although nothing went
wrong. `MncExperimentRunner.run` runs the modes exactly as Model Garden does
and reports the parameter count only.

In a multi-worker job a non-chief worker is given its own `model_dir` (a
private directory it writes to) and `chief_model_dir`: its checkpoint manager
restores what the chief restores (`peer_checkpoints`), and every worker
confirms the checkpoint step with the others before training.
"""
from typing import Any, Mapping, Optional, Tuple

from absl import logging
import tf_keras

from official.core import train_lib
from official.core import train_utils

from mnc_tf.tasks import peer_checkpoints


def num_workers(strategy) -> int:
  """Tasks that train (chief + workers) in the strategy's cluster, >= 1."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  spec = resolver.cluster_spec().as_dict() if resolver else {}
  return max(1, len(spec.get('chief', [])) + len(spec.get('worker', [])))


class MncExperimentRunner(train_lib.OrbitExperimentRunner):
  """`OrbitExperimentRunner` whose `run` does not try to count FLOPs.

  Non-chief workers restore the chief's checkpoints (see the module doc).
  """

  def __init__(self, *args, chief_model_dir: Optional[str] = None,
               **kwargs):
    """Initializes the runner.

    Args:
      *args: `OrbitExperimentRunner`'s arguments.
      chief_model_dir: on a non-chief worker of a multi-worker job, the
        chief's `model_dir` (read); `model_dir` is then the worker's private
        directory (written). None on the chief or a single worker.
      **kwargs: `OrbitExperimentRunner`'s keyword arguments.
    """
    self._chief_model_dir = chief_model_dir
    super().__init__(*args, **kwargs)

  def _maybe_build_checkpoint_manager(self):
    """The chief's manager, or a `PeerCheckpointManager`; checks the step."""
    if self.strategy.extended.should_checkpoint or not self.trainer.checkpoint:
      manager = super()._maybe_build_checkpoint_manager()
      restores = manager.latest_checkpoint if manager else None
    else:
      if not self._chief_model_dir:
        raise ValueError('a non-chief worker needs chief_model_dir (the '
                         "chief's model_dir, where it restores from).")
      manager = peer_checkpoints.PeerCheckpointManager(
          self.trainer.checkpoint,
          directory=self.model_dir,
          chief_directory=self._chief_model_dir,
          max_to_keep=1,
          step_counter=self.trainer.global_step,
          checkpoint_interval=self.params.trainer.checkpoint_interval,
          init_fn=self.trainer.initialize)
      restores = manager.chief_checkpoint
    workers = num_workers(self.strategy)
    if workers > 1:
      peer_checkpoints.check_same_checkpoint(
          self.strategy, restores,
          replicas_per_worker=self.strategy.num_replicas_in_sync // workers)
    return manager

  def run(self) -> Tuple[tf_keras.Model, Mapping[str, Any]]:
    """Runs the mode; returns (model, eval logs of a post-eval or {})."""
    mode, params = self._mode, self.params
    logging.info('Starts to execute mode: %s', mode)
    with self.strategy.scope():
      if mode in ('train', 'train_and_post_eval'):
        self.controller.train(steps=params.trainer.train_steps)
      elif mode == 'train_and_eval':
        self.controller.train_and_evaluate(
            train_steps=params.trainer.train_steps,
            eval_steps=params.trainer.validation_steps,
            eval_interval=params.trainer.validation_interval)
      elif mode == 'eval':
        self.controller.evaluate(steps=params.trainer.validation_steps)
      elif mode == 'continuous_eval':

        def timeout_fn():
          return (self.trainer.global_step.numpy()
                  >= params.trainer.train_steps)

        self.controller.evaluate_continuously(
            steps=params.trainer.validation_steps,
            timeout=params.trainer.continuous_eval_timeout,
            timeout_fn=timeout_fn)
      else:
        raise NotImplementedError(f'The mode is not implemented: {mode}')
    num_params = train_utils.try_count_params(self.trainer.model)
    if num_params is not None:
      logging.info('Number of trainable params in model: %f Millions.',
                   num_params / 10.**6)
    if self._run_post_eval or mode == 'train_and_post_eval':
      with self.strategy.scope():
        return self.trainer.model, self.controller.evaluate(
            steps=params.trainer.validation_steps)
    return self.trainer.model, {}
