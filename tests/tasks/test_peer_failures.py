# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""peer_failures: which errors mean a lost peer, and the one line about it."""
import json
import types

import tensorflow as tf

from mnc_tf.tasks import peer_failures
# pylint: disable=g-direct-tensorflow-import
from tensorflow.python.eager import context
# pylint: enable=g-direct-tensorflow-import

# Messages TensorFlow 2.20 raised in two-worker jobs on 127.0.0.1.
_RESET = ('Graph execution error:\n\nDetected at node CollectiveReduceV2_1 '
          'defined at (most recent call last):\n  File "train.py", line 201\n'
          'Collective ops is aborted by: recvmsg:Connection reset by peer\n'
          'Additional GRPC error information from remote target '
          '/job:worker/replica:0/task:1 while calling '
          '/tensorflow.WorkerService/RecvBuf:\n:UNKNOWN:Error received from '
          'peer  {grpc_status:14, grpc_message:"recvmsg:Connection reset by '
          'peer"}\nThe error could be from a previous operation. Restart your '
          'program to reset.\n\t [[{{node CollectiveReduceV2_1}}]]')
_HEARTBEAT = ('{{function_node __wrapped__CollectiveBcastSend_device_/job:'
              'worker/replica:0/task:0/device:CPU:0}} Collective ops is '
              'aborted by: Error reported from /job:worker/task:1: The '
              'following tasks are unhealthy (stopped sending heartbeats):\n'
              '/job:worker/replica:0/task:2\nThe tasks have crashed. Check the '
              'task logs for an earlier error.')
_HEARTBEAT_RPC = ('Collective ops is aborted by: Deadline Exceeded\n\nRPC: '
                  '/tensorflow.CoordinationService/Heartbeat\nThe error could '
                  'be from a previous operation.')
_CLUSTER = {'worker': ['127.0.0.1:1', '127.0.0.1:2']}


def _error(cls, message):
  return cls(None, None, message)


def test_peer_failures_are_recognized():
  assert peer_failures.is_peer_failure(
      _error(tf.errors.UnavailableError, _RESET))
  assert peer_failures.is_peer_failure(
      _error(tf.errors.UnavailableError, _HEARTBEAT))
  assert peer_failures.is_peer_failure(_error(
      tf.errors.DeadlineExceededError,
      'Collective has timed out waiting for other workers.'))
  assert peer_failures.is_peer_failure(
      _error(tf.errors.DeadlineExceededError, _HEARTBEAT_RPC))


def test_other_errors_are_not_peer_failures():
  assert peer_failures.is_peer_failure(
      _error(tf.errors.CancelledError, 'Collective ops is aborted by: '
             'Connection reset by peer'))
  assert not peer_failures.is_peer_failure(
      _error(tf.errors.CancelledError, 'Step was cancelled by an explicit '
             'call to `Session::Close()`.'))
  assert not peer_failures.is_peer_failure(
      _error(tf.errors.InvalidArgumentError, 'Connection reset'))
  # Workers issuing different collectives: a bug to show, not a lost peer.
  assert not peer_failures.is_peer_failure(_error(
      tf.errors.InternalError, 'Collective ops is aborted by: Collective '
      'instance 187 expected type 1 and data_type 1 but got type 1 and '
      'data_type 9'))
  assert not peer_failures.is_peer_failure(ValueError('heartbeat'))


def test_lost_task_is_the_named_peer_not_this_task():
  assert peer_failures.lost_tasks(
      _error(tf.errors.UnavailableError, _RESET), 'worker 0') == ['worker 1']
  # The coordination service's list of unhealthy tasks wins over the task
  # that reported it (worker 1) and this task's own device name.
  assert peer_failures.lost_tasks(
      _error(tf.errors.UnavailableError, _HEARTBEAT),
      'worker 0') == ['worker 2']
  assert peer_failures.lost_tasks(
      _error(tf.errors.UnavailableError, _RESET), 'worker 1') == []


def test_lost_peer_message_is_one_line_with_task_reason_and_command():
  line = peer_failures.lost_peer_message(
      _error(tf.errors.UnavailableError, _RESET), 'worker 0', _CLUSTER,
      '/m/ckpt-10', heartbeat_timeout_s=10, collective_timeout_s=0,
      argv=['train.py', '--model_dir=/m', '--params_override=a=1,b=two words'])
  assert '\n' not in line
  assert line.startswith('worker 0: lost worker 1 of the multi-worker job '
                         '(its connection was reset')
  assert ('relaunch every worker with the same command to resume from '
          "/m/ckpt-10: python train.py --model_dir=/m "
          "'--params_override=a=1,b=two words'") in line


def test_lost_peer_message_reasons():
  heartbeat = peer_failures.lost_peer_message(
      _error(tf.errors.UnavailableError, _HEARTBEAT), 'worker 0',
      {'worker': ['a:1', 'b:2', 'c:3']}, None, heartbeat_timeout_s=7,
      collective_timeout_s=0, argv=['train.py'])
  assert heartbeat.startswith('worker 0: lost worker 2 of the multi-worker '
                              'job (heartbeat timeout, 7 s '
                              '(--heartbeat_timeout))')
  # A stopped chief: this worker's heartbeat call to it timed out.
  stopped_chief = peer_failures.lost_peer_message(
      _error(tf.errors.DeadlineExceededError, _HEARTBEAT_RPC), 'worker 1',
      _CLUSTER, None, heartbeat_timeout_s=5, collective_timeout_s=0,
      argv=['train.py'])
  assert stopped_chief.startswith('worker 1: lost worker 0 of the '
                                  'multi-worker job (heartbeat timeout, 5 s')
  assert 'to start again (no checkpoint yet): python train.py' in heartbeat
  deadline = peer_failures.lost_peer_message(
      _error(tf.errors.DeadlineExceededError,
             'Collective has timed out waiting for other workers.'),
      'worker 1', _CLUSTER, None, heartbeat_timeout_s=10,
      collective_timeout_s=30, argv=['train.py'])
  # Two workers: the only other one is the lost one.
  assert deadline.startswith('worker 1: lost worker 0 of the multi-worker job'
                             ' (an all-reduce waited over 30 s '
                             '(--collective_timeout))')
  unknown = peer_failures.lost_peer_message(
      _error(tf.errors.DeadlineExceededError, 'timed out'), 'chief 0',
      {'chief': ['a:1'], 'worker': ['b:1', 'c:1']}, None, 10, 30,
      argv=['train.py'])
  assert 'lost another task (chief 0, worker 0, worker 1)' in unknown


def _two_workers_tf_config(monkeypatch, workers=2):
  monkeypatch.setenv('TF_CONFIG', json.dumps({
      'cluster': {'worker': [f'127.0.0.1:{i + 1}' for i in range(workers)]},
      'task': {'type': 'worker', 'index': 0}}))


def test_heartbeat_timeout_reaches_the_coordination_service(monkeypatch):
  ctx = context.context()
  monkeypatch.setattr(ctx, '_coordination_service_config', None)
  _two_workers_tf_config(monkeypatch)
  peer_failures.configure_failure_detection(7)
  config = ctx.coordination_service
  assert config.heartbeat_timeout_in_ms == 7000
  assert config.shutdown_barrier_timeout_in_ms == 7000
  assert config.service_type == 'standalone'
  assert config.service_leader == '/job:worker/replica:0/task:0'
  assert [(job.name, job.num_tasks)
          for job in config.coordinated_job_list] == [('worker', 2)]


def test_one_task_needs_no_coordination_service(monkeypatch):
  ctx = context.context()
  monkeypatch.setattr(ctx, '_coordination_service_config', None)
  _two_workers_tf_config(monkeypatch, workers=1)
  peer_failures.configure_failure_detection(7)
  assert ctx.coordination_service is None


def test_collective_timeout_reaches_the_strategy(monkeypatch):
  created = []
  monkeypatch.setattr(tf.distribute, 'MultiWorkerMirroredStrategy',
                      lambda **kwargs: created.append(kwargs) or 'strategy')
  runtime = types.SimpleNamespace(
      distribution_strategy='multi_worker_mirrored', all_reduce_alg='ring',
      num_gpus=0, tpu=None)
  assert peer_failures.get_strategy(runtime, collective_timeout_s=30) == (
      'strategy')
  options = created[0]['communication_options']
  assert options.timeout_seconds == 30.0
  assert options.implementation == (
      tf.distribute.experimental.CommunicationImplementation.RING)
