# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Every worker of a multi-worker job restores the chief's newest checkpoint.

With `MultiWorkerMirroredStrategy` every worker saves (reading a variable may
need a collective), but only the chief writes to `model_dir`; the others save
to a private directory. Model Garden gives a non-chief worker a checkpoint
manager on a fresh temporary directory, so on a relaunch the chief restores
`model_dir/ckpt-N` while the others, finding nothing, initialize: the step
counters differ, and restoring creates the optimizer's variables in another
order than initializing does, so the workers' collectives stop matching
("Collective instance N expected ... data_type 1 but got ... data_type 9").

`PeerCheckpointManager` (non-chief workers) writes to its private directory
but restores the checkpoint the chief restores: the newest in `model_dir`
when the job starts, its own copy of a later save after that (both workers
save at the same steps, so the copies hold the same values).
`check_same_checkpoint` makes every worker confirm, with one collective
before anything else, that they all resume from the same step.
"""
import os
import re
import tempfile
from typing import Optional, Sequence

from absl import logging
import tensorflow as tf


class CheckpointMismatchError(RuntimeError):
  """The workers of one job found different newest checkpoints."""


def checkpoint_step(prefix: Optional[str]) -> int:
  """The N of `.../ckpt-N` (-1 for None or a name without a step)."""
  match = re.search(r'-(\d+)$', prefix or '')
  return int(match.group(1)) if match else -1


class PeerCheckpointManager(tf.train.CheckpointManager):
  """Saves to a worker's own directory; restores the chief's checkpoint.

  `restore_or_initialize` (called by Orbit's controller, by the preemption
  handler and by Model Garden's loss-blow-up recovery) restores this
  worker's own newest save if it has made one in this run, else the newest
  checkpoint in `chief_directory` as of construction, else calls `init_fn`:
  the same choice, in the same order, that the chief's manager makes.
  """

  def __init__(self, checkpoint, directory, chief_directory, **kwargs):
    """Initializes the manager.

    Args:
      checkpoint: the `tf.train.Checkpoint` to save and restore.
      directory: this worker's private directory (written).
      chief_directory: the chief's `model_dir` (read only).
      **kwargs: the other `tf.train.CheckpointManager` arguments.
    """
    super().__init__(checkpoint, directory, **kwargs)
    self._chief_directory = chief_directory
    self._chief_checkpoint = tf.train.latest_checkpoint(chief_directory)

  @property
  def chief_checkpoint(self) -> Optional[str]:
    """The chief's newest checkpoint when this manager was built (or None)."""
    return self._chief_checkpoint

  def restore_or_initialize(self):
    """Restores the checkpoint the chief restores; returns its path or None."""
    path = self._latest_checkpoint or self._chief_checkpoint
    if path is None:
      return super().restore_or_initialize()
    self._checkpoint.restore(path)
    if self._checkpoint_interval is not None:
      self._last_checkpoint_step = int(self._step_counter.numpy())
    return path


def _worker_steps(strategy, step: int) -> Sequence[int]:
  """`step` of every replica in the cluster, by one all-gather."""
  value = tf.constant([step], tf.int64)

  @tf.function
  def gather():
    return strategy.run(lambda: tf.distribute.get_replica_context().all_gather(
        value, axis=0))

  result = strategy.experimental_local_results(gather())[0]
  return [int(s) for s in result.numpy()]


def check_same_checkpoint(strategy, checkpoint: Optional[str],
                          replicas_per_worker: int = 1) -> None:
  """Confirms that every worker resumes from the same checkpoint step.

  A collective: every worker of the job must call it, at the same point.

  Args:
    strategy: the job's `MultiWorkerMirroredStrategy`.
    checkpoint: the prefix this worker restores (None: none).
    replicas_per_worker: local replicas per worker (to name the worker).

  Raises:
    CheckpointMismatchError: the workers found different checkpoints; the
      message names the steps per worker and the likely cause.
  """
  steps = _worker_steps(strategy, checkpoint_step(checkpoint))
  per_worker = steps[::max(replicas_per_worker, 1)]
  logging.info('Checkpoint step per worker: %s', per_worker)
  if len(set(per_worker)) > 1:
    found = ', '.join(f'worker {i}: {"none" if s < 0 else f"ckpt-{s}"}'
                      for i, s in enumerate(per_worker))
    raise CheckpointMismatchError(
        f'the workers found different newest checkpoints in model_dir '
        f'({found}); every worker must read the same model_dir (a shared '
        f'file system such as gs:// or NFS) - relaunch all of them.')


def private_directory(task_type: str, task_id: int) -> str:
  """A new directory `<tmp>/mnc_tf_<type>_<id>_XXXX` for a non-chief worker.

  It receives what the worker would otherwise write into `model_dir`
  (checkpoints, TensorBoard events); `remove_directory` deletes it at exit.
  """
  return tempfile.mkdtemp(prefix=f'mnc_tf_{task_type}_{task_id}_')


def remove_directory(path: str) -> None:
  """Removes `path` and everything in it (no error if it is gone)."""
  if path and os.path.isdir(path):
    tf.io.gfile.rmtree(path)
