# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""A lost worker ends a multi-worker job in one line, within a set time.

`MultiWorkerMirroredStrategy` synchronizes every step: when one worker dies,
hangs or is stopped, the others cannot go on. TensorFlow finds out in two
ways, both bounded by flags of `train.py` (defined by `define_flags`):

- `--heartbeat_timeout` (seconds): every worker sends heartbeats to the
  coordination service (run by the chief, or worker 0); a worker silent for
  that long is declared lost and every collective of the job is aborted. This
  is how a stopped (SIGSTOP) or frozen machine is found, where no connection
  is reset.
- `--collective_timeout` (seconds, 0 = no limit): an all-reduce waiting longer
  than that for the other workers fails. It catches a worker that is alive
  (still sending heartbeats) but no longer trains; it must exceed any pause
  of a worker between steps (the first step's tracing, a checkpoint save).

A killed worker is usually found sooner: its peers' connections are reset.
`lost_peer_message` turns the resulting error into one line naming the lost
task and the command to relaunch.
"""
import re
import shlex
import sys
import threading
from typing import Optional, Sequence

from absl import flags
from absl import logging
import tensorflow as tf

from official.common import distribute_utils

# Not in TensorFlow's public API: the coordination service's settings.
# pylint: disable=g-direct-tensorflow-import
from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
from tensorflow.python.eager import context
# pylint: enable=g-direct-tensorflow-import

# Errors by which TensorFlow reports that a collective lost its peers: always
# so for the first two; for the others only with one of the markers. (An
# InternalError such as "Collective instance N expected ... data_type 1 but
# got ... data_type 9" is a bug, not a lost peer.)
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
               tf.errors.AbortedError, tf.errors.CancelledError)
_ALWAYS_PEER_ERRORS = PEER_ERRORS[:2]
_PEER_MARKERS = ('heartbeat', 'connection reset', 'socket closed',
                 'failed to connect', 'unavailable', 'deadline exceeded')
_TASK = re.compile(r'/job:(\w+)/(?:replica:\d+/)?task:(\d+)')
_TRAINING_JOBS = ('chief', 'worker')


def define_flags():
  """Defines `--heartbeat_timeout` and `--collective_timeout` (absl)."""
  flags.DEFINE_integer(
      'heartbeat_timeout', 10,
      'Multi-worker jobs: a worker that sends no heartbeat for this many '
      'seconds is declared lost and the job ends (this finds a stopped or '
      'frozen machine).', lower_bound=1)
  flags.DEFINE_integer(
      'collective_timeout', 0,
      'Multi-worker jobs: seconds one all-reduce may wait for the other '
      'workers before the job ends; 0 = no limit. Must exceed the longest '
      'pause of a worker between steps (first-step tracing, checkpoint '
      'saves).', lower_bound=0)


def _training_tasks(cluster_spec: dict) -> Sequence[str]:
  return [f'{job} {index}' for job in _TRAINING_JOBS
          for index in range(len(cluster_spec.get(job, [])))]


def cluster_spec() -> dict:
  """The cluster of TF_CONFIG (as set by `configure_cluster`), or {}."""
  return tf.distribute.cluster_resolver.TFConfigClusterResolver(
  ).cluster_spec().as_dict()


def _quiet_peer_failures_in_threads(original=threading.excepthook):
  """Background threads do not print tracebacks for a lost peer.

  TensorFlow's preemption watcher thread (Model Garden's on-demand
  checkpoint) fails with a traceback when the coordination service goes
  away; the main thread reports the lost peer in one line instead.
  """

  def hook(args):
    if args.exc_value is not None and is_peer_failure(args.exc_value):
      logging.info('Thread %s ended: the peer is lost (%s).',
                   getattr(args.thread, 'name', '?'),
                   type(args.exc_value).__name__)
      return
    original(args)

  threading.excepthook = hook


def configure_failure_detection(heartbeat_timeout_s: int) -> None:
  """Sets the coordination service's heartbeat timeout for this process.

  Call before the strategy is created (which otherwise configures the
  service with TensorFlow's defaults); no effect outside a cluster of two or
  more training tasks. Background threads failing on a lost peer no longer
  print tracebacks (the main thread's error is reported instead).

  Args:
    heartbeat_timeout_s: seconds without a heartbeat before a task is lost.
  """
  spec = cluster_spec()
  if len(_training_tasks(spec)) < 2:
    return
  _quiet_peer_failures_in_threads()
  leader_job = 'chief' if spec.get('chief') else 'worker'
  context.context().configure_coordination_service(
      service_type='standalone',
      service_leader=f'/job:{leader_job}/replica:0/task:0',
      heartbeat_timeout_in_ms=int(heartbeat_timeout_s * 1000),
      # A survivor must not wait long at exit for the lost task.
      shutdown_barrier_timeout_in_ms=int(heartbeat_timeout_s * 1000),
      coordinated_jobs=[
          coordination_config_pb2.CoordinatedJob(name=job,
                                                 num_tasks=len(spec[job]))
          for job in _TRAINING_JOBS if spec.get(job)])


def get_strategy(runtime, collective_timeout_s: int = 0):
  """Model Garden's strategy for `runtime`, with the collective timeout.

  Args:
    runtime: the experiment's `RuntimeConfig`.
    collective_timeout_s: seconds an all-reduce may wait (0: no limit); used
      by `multi_worker_mirrored` only.

  Returns:
    a `tf.distribute.Strategy`.
  """
  if (runtime.distribution_strategy == 'multi_worker_mirrored' and
      collective_timeout_s):
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=distribute_utils._collective_communication(  # pylint: disable=protected-access
            runtime.all_reduce_alg),
        timeout_seconds=float(collective_timeout_s))
    return tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=options)
  return distribute_utils.get_distribution_strategy(
      distribution_strategy=runtime.distribution_strategy,
      all_reduce_alg=runtime.all_reduce_alg,
      num_gpus=runtime.num_gpus,
      tpu_address=runtime.tpu)


def is_peer_failure(error: BaseException) -> bool:
  """True when `error` is how TensorFlow reports a lost peer."""
  if isinstance(error, _ALWAYS_PEER_ERRORS):
    return True
  text = str(error).lower()
  return isinstance(error, PEER_ERRORS) and any(
      marker in text for marker in _PEER_MARKERS)


def lost_tasks(error: BaseException, own_task: str) -> Sequence[str]:
  """Tasks other than `own_task` ('worker 0') that `error` names."""
  text = str(error)
  unhealthy = text.find('unhealthy')
  if unhealthy >= 0:  # The coordination service lists the lost tasks.
    text = text[unhealthy:]
  found = []
  for job, index in _TASK.findall(text):
    task = f'{job} {index}'
    if task != own_task and task not in found:
      found.append(task)
  return found


def lost_peer_message(error: BaseException, own_task: str,
                      cluster: dict, latest_checkpoint: Optional[str],
                      heartbeat_timeout_s: int, collective_timeout_s: int,
                      argv: Sequence[str] = None) -> str:
  """One line: which task was lost, why, and the command to relaunch.

  Args:
    error: the `tf.errors.OpError` the training loop raised.
    own_task: this process, e.g. 'worker 0'.
    cluster: the cluster spec (dict of job -> addresses).
    latest_checkpoint: the newest checkpoint in `model_dir` (or None).
    heartbeat_timeout_s: the `--heartbeat_timeout` in force.
    collective_timeout_s: the `--collective_timeout` in force (0: none).
    argv: the command line to repeat (default `sys.argv`).

  Returns:
    the line (no newline).
  """
  names = lost_tasks(error, own_task)
  if not names:
    others = [t for t in _training_tasks(cluster) if t != own_task]
    names = others if len(others) == 1 else []
  who = (' and '.join(names) if names else
         'another task (' + ', '.join(_training_tasks(cluster)) + ')')
  text = str(error).lower()
  if 'heartbeat' in text:
    why = f'heartbeat timeout, {heartbeat_timeout_s} s (--heartbeat_timeout)'
  elif isinstance(error, tf.errors.DeadlineExceededError):
    why = (f'an all-reduce waited over {collective_timeout_s} s '
           '(--collective_timeout)')
  elif 'reset' in text or 'closed' in text:
    why = 'its connection was reset (the process ended)'
  else:
    why = type(error).__name__
  resume = (f'resume from {latest_checkpoint}' if latest_checkpoint else
            'start again (no checkpoint yet)')
  argv = list(sys.argv if argv is None else argv)
  command = shlex.join(['python'] + argv)
  return (f'{own_task}: lost {who} of the multi-worker job ({why}); '
          f'relaunch every worker with the same command to {resume}: '
          f'{command}')
