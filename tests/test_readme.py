# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""README's runnable shell blocks still match the code.

Runs, in a temporary directory standing for a fresh clone (with `configs/`,
`train.py` and `export/` linked in), every command of the ```bash blocks that
follow a `<!-- runnable -->` line, in order:
- the data tools for real, in process, with tiny sizes (4 + 2 images of
  64 x 64 instead of the README's 1000 + 50);
- `train.py`, the exporter and `mnc_tf.predict` up to the point where their
  flags, the experiment, the overrides and the input files they read are
  checked (training, export and prediction themselves are what the other tests
  run; they cost minutes here).
A command this test does not know fails it, so that a new runnable command
gets a check.
"""
import copy
import glob
import os
import re
import shlex

from absl import flags
import pytest

from mnc_tf.configs import experiment_params
from mnc_tf.data import create_coco_tfrecord
from mnc_tf.data import synthetic_shapes
from mnc_tf import predict
from mnc_tf.serving import export_saved_model
from official.common import flags as tfm_flags

import train  # pylint: disable=g-bad-import-order

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = '<!-- runnable -->'
TINY_SHAPES = {'--num_train': '4', '--num_val': '2'}
TINY_SHAPES_EXTRA = ['--min_side=64', '--max_side=64', '--max_instances=2']
IGNORED = ('make', 'source', 'tensorboard')


def runnable_commands(text):
  """Commands (token lists) of the ```bash blocks right after `MARK`."""
  blocks = re.findall(MARK + r'\s*\n```bash\n(.*?)```', text, flags=re.S)
  commands = []
  for block in blocks:
    joined = re.sub(r'\\\n\s*', ' ', block)
    for line in joined.splitlines():
      tokens = shlex.split(line, comments=True)
      if tokens:
        commands.append(tokens)
  return commands


def _flag_values(define, argv):
  flag_values = flags.FlagValues()
  define(flag_values)
  flag_values(argv)
  return flag_values


def _define_train_flags(flag_values):
  """Model Garden's training flags (`official.common.flags`) on `flag_values`.

  `tfm_flags.define_flags` defines them on the global `flags.FLAGS` only:
  they are defined there once and copied.
  """
  if 'experiment' not in flags.FLAGS:
    tfm_flags.define_flags()
  for flag in flags.FLAGS.flags_by_module_dict()['official.common.flags']:
    flag_values[flag.name] = copy.deepcopy(flag)


def _tiny_shapes_argv(argv):
  out = []
  for arg in argv:
    name = arg.split('=', 1)[0]
    out.append(f'{name}={TINY_SHAPES[name]}' if name in TINY_SHAPES else arg)
  return out + TINY_SHAPES_EXTRA


def run_command(tokens):
  """Runs / checks one README command (cwd: the fake clone)."""
  program = tokens[0]
  if program in IGNORED:
    return 'ignored'
  assert program == 'python', f'unknown README command: {tokens}'
  if tokens[1] == '-m':
    module, argv = tokens[2], [tokens[2]] + tokens[3:]
  else:
    module, argv = tokens[1], [tokens[1]] + tokens[2:]
  if module == 'mnc_tf.data.synthetic_shapes':
    argv = _tiny_shapes_argv(argv)
    flag_values = _flag_values(synthetic_shapes.define_flags, argv)
    assert synthetic_shapes.run(flag_values) == 0
    return 'ran'
  if module == 'mnc_tf.data.create_coco_tfrecord':
    flag_values = _flag_values(create_coco_tfrecord.define_flags, argv)
    assert create_coco_tfrecord.main([module], flag_values) == 0
    return 'ran'
  if module == 'train.py':
    flag_values = _flag_values(_define_train_flags, argv)
    train.parse_params(flag_values)
    return 'checked'
  if module == 'export/export_saved_model.py':
    flag_values = _flag_values(export_saved_model.define_flags, argv)
    experiment_params.parse(flag_values.experiment,
                            flag_values.config_file or [],
                            flag_values.params_override)
    assert flag_values.checkpoint_path and flag_values.export_dir
    return 'checked'
  if module == 'mnc_tf.predict':
    flag_values = _flag_values(predict.define_flags, argv)
    assert glob.glob(flag_values.images), flag_values.images
    assert os.path.exists(flag_values.annotation_file)
    assert flag_values.saved_model and flag_values.output_dir
    return 'checked'
  raise AssertionError(f'unknown README command: {tokens}')


@pytest.fixture
def fake_clone(tmp_path, monkeypatch):
  for name in ('configs', 'train.py', 'export'):
    os.symlink(os.path.join(REPO_ROOT, name), tmp_path / name)
  monkeypatch.chdir(tmp_path)
  return tmp_path


def test_readme_runnable_blocks(fake_clone):
  with open(os.path.join(REPO_ROOT, 'README.md')) as f:
    text = f.read()
  commands = runnable_commands(text)
  modules = [c[1] if c[1] != '-m' else c[2] for c in commands]
  # The newcomer path: data, a short run, evaluation, export, predict.
  assert modules == ['mnc_tf.data.synthetic_shapes',
                     'mnc_tf.data.create_coco_tfrecord',
                     'mnc_tf.data.create_coco_tfrecord', 'train.py',
                     'train.py', 'export/export_saved_model.py',
                     'mnc_tf.predict']
  for tokens in commands:
    run_command(tokens)
  # The data landed where the flagfile reads it.
  assert glob.glob(str(fake_clone / 'demo_out/data/train-*.tfrecord'))
  assert len(glob.glob(str(fake_clone / 'demo_out/shapes/val/*'))) == 2

  # The pictures' path the README names is the one the short run writes.
  short_run = next(c for c in commands if c[1] == 'train.py'
                   and any('train_steps' in a for a in c))
  steps = int(re.search(r'trainer\.train_steps=(\d+)',
                        ' '.join(short_run)).group(1))
  assert (f'validation_predictions/step_{steps:07d}/image_0.png'
          in text)


def test_unknown_commands_and_bad_flags_fail(fake_clone):
  with pytest.raises(AssertionError, match='unknown README command'):
    run_command(['python', '-m', 'mnc_tf.nope'])
  with pytest.raises(experiment_params.ParamsError, match='matches no file'):
    run_command(['python', 'train.py',
                 '--flagfile=configs/mnc_shapes_demo.flags'])
  with pytest.raises(flags.Error):
    run_command(['python', 'export/export_saved_model.py', '--nope=1'])
