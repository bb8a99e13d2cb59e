# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""A two-worker job survives lost workers: one line, relaunch, resume.

One job on 127.0.0.1 is interrupted three times and relaunched with the same
command each time (the module fixture runs the four launches; the tests check
what each launch did):

  A  worker 1 is killed (SIGKILL) after a checkpoint: the chief ends with one
     line naming worker 1 and the relaunch command;
  B  the relaunch resumes there; the chief is killed while writing a later
     checkpoint: worker 1 ends with one line naming worker 0;
  C  the relaunch resumes from the checkpoint before the unfinished one;
     worker 1 is stopped (SIGSTOP): the chief ends within the heartbeat
     timeout, with one line;
  D  the relaunch resumes and reaches the last step.

Stitched together, the chief's progress lines give the step numbers and
learning rates of an uninterrupted run (the schedule, warm-up included).
"""
import glob
import json
import os
import re
import shlex
import signal

import numpy as np
import pytest
import tensorflow as tf

from official.modeling import optimization
from mnc_tf.configs import mnc_experiments
from tests import mnc_test_data
from tests import multi_worker_cluster
from tests import train_subprocess

pytestmark = pytest.mark.slow

TRAIN_STEPS = 30
HEARTBEAT_TIMEOUT_S = 5
_OVERRIDES = (
    'runtime.distribution_strategy=multi_worker_mirrored,'
    'task.train_data.global_batch_size=2,task.model.cascade.num_train_stages=3,'
    f'trainer.train_steps={TRAIN_STEPS},trainer.steps_per_loop=2,'
    'trainer.checkpoint_interval=4,trainer.summary_interval=2,'
    'trainer.max_to_keep=50,trainer.validation_interval=100000')
_STARTUP_S = 300  # Two TensorFlow processes tracing the model on 2 cores.
_STEP_LINE = re.compile(r'^step (\d+)/\d+ \| .* \| lr ([0-9.e-]+) \|', re.M)
_ERROR_LINE = re.compile(
    r'^train\.py: error: worker (\d): lost worker (\d) of the multi-worker '
    r'job \(([^)]*)\).*relaunch every worker with the same command to resume '
    r'from (\S+): (python .*)$')


def _step(prefix):
  return int(prefix.rsplit('-', 1)[1])


def _last_line(output):
  return output.rstrip('\n').rsplit('\n', 1)[-1]


@pytest.fixture(scope='module')
def history(tmp_path_factory):
  """Runs launches A-D; returns what each one printed and left behind."""
  base = tmp_path_factory.mktemp('multi_worker')
  paths = mnc_test_data.make_tiny_shapes(str(base / 'data'))
  model_dir = str(base / 'model')
  temp = base / 'tmp'  # The workers' private directories (TMPDIR).
  temp.mkdir()
  env = {'TMPDIR': str(temp)}
  args = [f'--heartbeat_timeout={HEARTBEAT_TIMEOUT_S}']
  runs = {}

  def launch(name, **kwargs):
    return multi_worker_cluster.TwoWorkers(
        model_dir, paths, _OVERRIDES, str(base / name), env=dict(
            env, **kwargs.pop('env', {})), extra_args=args, **kwargs)

  # A: worker 1 killed after a checkpoint.
  with launch('A') as job:
    job.wait_for_checkpoint(6, _STARTUP_S)
    job.signal(1, signal.SIGKILL)
    status, seconds = job.wait(0, 60)
    runs['A'] = dict(status=status, seconds=seconds, chief=job.output(0),
                     pids=[p.pid for p in job.processes],
                     latest=tf.train.latest_checkpoint(model_dir),
                     command=multi_worker_cluster.python_command(job))
  # B: the chief killed while writing the second checkpoint after resuming.
  killed_at = _step(runs['A']['latest']) + 8
  with launch('B', env={'MNC_TEST_KILL_IN_SAVE': str(killed_at)},
              scripts={0: os.path.join(train_subprocess.REPO_ROOT, 'tests',
                                       'train_killed_in_save.py')}) as job:
    chief_status, _ = job.wait(0, _STARTUP_S)
    status, seconds = job.wait(1, 60)
    runs['B'] = dict(chief_status=chief_status, status=status,
                     pids=[p.pid for p in job.processes],
                     seconds=seconds, chief=job.output(0),
                     survivor=job.output(1), killed_at=killed_at,
                     latest=tf.train.latest_checkpoint(model_dir))
  # C: worker 1 stopped after a checkpoint.
  with launch('C') as job:
    resumed = _step(runs['B']['latest'])
    job.wait_for_checkpoint(resumed + 4, _STARTUP_S)
    job.signal(1, signal.SIGSTOP)
    status, seconds = job.wait(0, 120)
    private = re.findall(r'saved checkpoint to (\S+)/ckpt-\d+\.',
                         job.output(1))[-1]
    runs['C'] = dict(status=status, seconds=seconds, chief=job.output(0),
                     pids=[p.pid for p in job.processes],
                     worker1=job.output(1), private=private,
                     latest=tf.train.latest_checkpoint(model_dir))
  # D: to the end.
  with launch('D') as job:
    statuses = [job.wait(i, _STARTUP_S)[0] for i in range(2)]
    runs['D'] = dict(statuses=statuses, chief=job.output(0),
                     pids=[p.pid for p in job.processes],
                     worker1=job.output(1))
  runs.update(model_dir=model_dir, temp=str(temp))
  # For a person reading the run: how long the survivors took to end.
  (base / 'seconds_to_end.json').write_text(json.dumps(
      {name: runs[name]['seconds'] for name in 'ABC'}))
  return runs


def _error_line(output):
  line = _last_line(output)
  match = _ERROR_LINE.match(line)
  assert match, f'not the one-line error: {line!r}\n{output[-3000:]}'
  assert 'Traceback' not in output
  return match


def test_killed_worker_ends_the_chief_in_one_line(history):
  run = history['A']
  assert run['status'] == 1
  own, lost, why, resume, command = _error_line(run['chief']).groups()
  assert (own, lost) == ('0', '1')
  # Whichever TensorFlow notices first: the reset connection or the missing
  # heartbeats.
  assert 'connection was reset' in why or 'heartbeat timeout' in why, why
  assert resume == run['latest'] and _step(resume) >= 6
  assert shlex.split(command) == run['command']
  assert run['seconds'] < HEARTBEAT_TIMEOUT_S + 30


def test_relaunch_resumes_every_worker_from_the_chiefs_checkpoint(history):
  latest = history['A']['latest']
  assert (f'train.py: resuming from checkpoint {latest}'
          in history['B']['chief'])
  # Worker 1 restored the same one (Orbit logs the path) and trained on.
  assert f'restored model from {latest}.' in history['B']['survivor']
  assert f'train | step: {_step(latest):>6}' in history['B']['survivor']
  assert 'Collective instance' not in history['B']['survivor']


def test_chief_killed_during_a_save_leaves_the_previous_checkpoint(history):
  run = history['B']
  assert run['chief_status'] == -signal.SIGKILL
  # The killed save wrote its files, but the state file does not name it.
  unfinished = os.path.join(history['model_dir'], f'ckpt-{run["killed_at"]}')
  assert tf.io.gfile.exists(unfinished + '.index')
  assert _step(run['latest']) == run['killed_at'] - 4
  own, lost, _, resume, _ = _error_line(run['survivor']).groups()
  assert (own, lost) == ('1', '0') and resume == run['latest']
  assert run['status'] == 1
  assert (f'train.py: resuming from checkpoint {run["latest"]}'
          in history['C']['chief'])
  assert f'restored model from {run["latest"]}.' in history['C']['worker1']


def test_stopped_worker_ends_the_chief_within_the_heartbeat_timeout(history):
  run = history['C']
  assert run['status'] == 1
  own, lost, why, resume, _ = _error_line(run['chief']).groups()
  assert (own, lost) == ('0', '1') and 'heartbeat timeout' in why
  assert resume == run['latest']
  # Found by the heartbeat timeout (5 s), plus the time to end the process.
  assert run['seconds'] < HEARTBEAT_TIMEOUT_S + 20


def test_workers_hold_the_same_state_after_a_resume(history):
  """Worker 1's own save equals the chief's at that step, slots included.

  Launch C resumed both workers from the chief's checkpoint; a worker that
  restored anything else (e.g. no momentum) would drift from the chief.
  """
  own = tf.train.latest_checkpoint(history['C']['private'])
  chief = os.path.join(history['model_dir'], os.path.basename(own))
  assert _step(own) > _step(history['B']['latest'])
  own_reader = tf.train.load_checkpoint(own)
  chief_reader = tf.train.load_checkpoint(chief)
  names = [n for n in chief_reader.get_variable_to_shape_map()
           if n != '_CHECKPOINTABLE_OBJECT_GRAPH']
  assert any('OPTIMIZER_SLOT' in n and 'momentum' in n for n in names)
  assert sorted(names) == sorted(
      n for n in own_reader.get_variable_to_shape_map()
      if n != '_CHECKPOINTABLE_OBJECT_GRAPH')
  for name in names:
    np.testing.assert_allclose(own_reader.get_tensor(name),
                               chief_reader.get_tensor(name), rtol=1e-6,
                               atol=1e-7, err_msg=name)


def _printed_steps(output, until=None):
  return [(int(s), float(lr)) for s, lr in _STEP_LINE.findall(output)
          if until is None or int(s) <= until]


def test_relaunches_give_the_steps_and_rates_of_an_uninterrupted_run(history):
  assert history['D']['statuses'] == [0, 0]
  # Each launch counts until the checkpoint the next one resumes from.
  stitched = (
      _printed_steps(history['A']['chief'], _step(history['A']['latest'])) +
      _printed_steps(history['B']['chief'], _step(history['B']['latest'])) +
      _printed_steps(history['C']['chief'], _step(history['C']['latest'])) +
      _printed_steps(history['D']['chief']))
  steps = [s for s, _ in stitched]
  assert steps == list(range(2, TRAIN_STEPS + 1, 2))
  schedule = optimization.OptimizerFactory(
      mnc_experiments.mnc_shapes_demo().trainer.optimizer_config
  ).build_learning_rate()
  for step, lr in stitched:
    assert lr == pytest.approx(float(schedule(step)), rel=5e-3), step
  final = tf.train.load_checkpoint(history['model_dir'])
  assert final.get_tensor('global_step/.ATTRIBUTES/VARIABLE_VALUE') == (
      TRAIN_STEPS)
  assert final.get_tensor('optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE') == (
      TRAIN_STEPS)


def test_only_the_chief_writes_to_model_dir(history):
  chief_pids = {history[run]['pids'][0] for run in 'ABCD'}
  events = glob.glob(os.path.join(history['model_dir'], 'train', '*'))
  assert events
  for path in events:  # events.out.tfevents.<time>.<host>.<pid>.<n>.v2
    pid = int(re.search(r'\.(\d+)\.\d+\.v2$', path).group(1))
    assert pid in chief_pids, path
  assert sorted(os.listdir(history['model_dir'])) == sorted(
      ['checkpoint', 'params.yaml', 'train'] + [
          n for n in os.listdir(history['model_dir']) if n.startswith('ckpt-')])
  # The relaunch that ended normally removed worker 1's private directory;
  # only the killed ones' remain (in TMPDIR).
  saved_to = re.findall(r'saved checkpoint to (\S+)/ckpt-\d+\.',
                        history['D']['worker1'])
  assert saved_to and not os.path.exists(saved_to[0])
  assert saved_to[0].startswith(history['temp'])
