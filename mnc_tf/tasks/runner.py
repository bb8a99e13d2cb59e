# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Model Garden's experiment runner, without its FLOPs count.

`train_lib.OrbitExperimentRunner.run` ends every run with
`train_utils.try_count_flops(model)`, which needs `model.inputs` (a functional
Keras model) or input specs it is not given; on the subclassed MNC model it
always fails and logs "Failed to count model FLOPs ..." although nothing went
wrong. `MncExperimentRunner.run` runs the modes exactly as Model Garden does
and reports the parameter count only.
"""
from typing import Any, Mapping, Tuple

from absl import logging
import tf_keras

from official.core import train_lib
from official.core import train_utils


class MncExperimentRunner(train_lib.OrbitExperimentRunner):
  """`OrbitExperimentRunner` whose `run` does not try to count FLOPs."""

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
