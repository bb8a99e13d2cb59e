# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Two `train.py` workers on 127.0.0.1 (TF_CONFIG) for the integration tests.

Each worker runs in its own process group with its output in a file; `close`
kills the groups (SIGKILL also ends a stopped process) and reaps them, so a
failing test leaves nothing running.
"""
import json
import os
import signal
import socket
import subprocess
import time

import tensorflow as tf

from tests import train_subprocess


def free_ports(count):
  """`count` TCP ports on 127.0.0.1 that were free a moment ago."""
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(('127.0.0.1', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def tf_config(workers, index):
  return json.dumps({'cluster': {'worker': workers},
                     'task': {'type': 'worker', 'index': index}})


class TwoWorkers:
  """One launch of a two-worker `train.py --mode=train` job.

  Attributes:
    processes: the two `subprocess.Popen` (worker 0 is the chief).
    logs: their output files (stdout and stderr together).
  """

  def __init__(self, model_dir, paths, overrides, log_prefix, env=None,
               extra_args=(), scripts=None):
    """Starts both workers.

    Args:
      model_dir: the chief's model_dir.
      paths: the data set (`mnc_test_data.make_tiny_shapes`).
      overrides: `--params_override` entries after the tiny ones.
      log_prefix: the logs go to `<log_prefix>-w<index>.log`.
      env: extra environment variables for both workers.
      extra_args: more train.py flags for both.
      scripts: {index: path} of a script run instead of train.py (same
        arguments) for that worker.
    """
    self.model_dir = model_dir
    workers = [f'127.0.0.1:{p}' for p in free_ports(2)]
    base = train_subprocess.command(model_dir, paths, 'train', overrides)
    self.command = base[1:] + list(extra_args)
    self.processes, self.logs = [], []
    try:
      for index in range(2):
        command = [base[0]] + self.command
        if scripts and index in scripts:
          command[1] = scripts[index]
        log = f'{log_prefix}-w{index}.log'
        self.logs.append(log)
        with open(log, 'w') as out:
          self.processes.append(subprocess.Popen(
              command, cwd=train_subprocess.REPO_ROOT,
              # Unbuffered: a killed worker's log keeps all it printed.
              env=train_subprocess.environment(
                  dict(env or {}, TF_CONFIG=tf_config(workers, index),
                       PYTHONUNBUFFERED='1')),
              stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    except BaseException:
      self.close()
      raise

  def output(self, index):
    with open(self.logs[index]) as f:
      return f.read()

  def wait_for_checkpoint(self, min_step, timeout):
    """Waits until the chief's newest checkpoint is >= `min_step`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
      latest = tf.train.latest_checkpoint(self.model_dir)
      if latest and int(latest.rsplit('-', 1)[1]) >= min_step:
        return latest
      for index, process in enumerate(self.processes):
        assert process.poll() is None, (
            f'worker {index} ended early:\n{self.output(index)[-3000:]}')
      time.sleep(0.1)
    raise AssertionError(f'no checkpoint >= {min_step} in {timeout} s')

  def signal(self, index, signum):
    os.kill(self.processes[index].pid, signum)

  def wait(self, index, timeout):
    """Waits for worker `index` to end; returns (exit status, seconds)."""
    start = time.monotonic()
    try:
      returncode = self.processes[index].wait(timeout=timeout)
    except subprocess.TimeoutExpired as e:
      raise AssertionError(
          f'worker {index} still running after {timeout} s:\n'
          f'{self.output(index)[-3000:]}') from e
    return returncode, time.monotonic() - start

  def close(self):
    """Kills both process groups and reaps them."""
    for process in self.processes:
      if process.poll() is None:
        try:
          os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
          pass
      process.wait()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def python_command(job):
  """What a user types to relaunch: `python train.py ...` (as printed)."""
  return ['python', train_subprocess.TRAIN_PY] + job.command[1:]

