# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Every entry point x every kind of file damage: one line, exit != 0.

Each row damages one copy of one artefact (a checkpoint, a SavedModel, a
TFRecord, a YAML / flag file, a COCO JSON, an image list) the way disks,
copies and killed jobs damage files, runs one CLI on it and checks the
project's error form: a non-zero exit, no traceback, and exactly one
`<program>: error: <path>...` line on stderr, naming the damaged file.
The exporter, predict, the converters and the inspector run in-process;
train.py (train / eval / train_and_eval) runs as a subprocess, its quick
rows concurrently.
"""
import glob
import os
import shutil
import subprocess

from absl import flags
import pytest
import tensorflow as tf

from mnc_tf.data import create_coco_tfrecord
from mnc_tf.data import create_sbd_tfrecord
from mnc_tf.data import inspect as inspect_cli
from mnc_tf import predict as predict_cli
from mnc_tf.serving import export_saved_model
from mnc_tf.utils import damaged_files
from tests import mnc_test_data
from tests import train_subprocess
from tests import damage

pytestmark = pytest.mark.slow

DATA = '.data-00000-of-00001'
STEPS = ('trainer.train_steps=2,trainer.steps_per_loop=1,'
         'trainer.checkpoint_interval=1,trainer.summary_interval=1,'
         'trainer.validation_steps=1,trainer.validation_interval=2')


@pytest.fixture(scope='module')
def artefacts(tmp_path_factory):
  """Tiny shapes data, a model_dir trained 2 steps, a small SavedModel."""
  root = str(tmp_path_factory.mktemp('artefacts'))
  paths = mnc_test_data.make_tiny_shapes(os.path.join(root, 'data'))
  model_dir = os.path.join(root, 'model')
  result = train_subprocess.run(model_dir, paths, 'train', STEPS)
  assert result.returncode == 0, result.stderr[-3000:]
  saved_model = os.path.join(root, 'saved_model')
  tf.saved_model.save(damage.Doubler(), saved_model)
  return {'paths': paths, 'model_dir': model_dir, 'saved_model': saved_model,
          'root': root}


def copy_tree(source, target):
  shutil.copytree(source, target,
                  ignore=shutil.ignore_patterns('train', 'validation'))
  return target


def copy_data(artefacts, directory):
  """A copy of the tiny data set under `directory`; its `paths` dict."""
  source = artefacts['paths']
  target = os.path.join(str(directory), 'data')
  os.makedirs(target)
  for pattern in (source['train_pattern'], source['val_pattern']):
    for path in glob.glob(pattern):
      shutil.copy(path, target)
  shutil.copy(source['val_json'], target)
  return {'train_pattern': os.path.join(target, 'train-*.tfrecord'),
          'val_pattern': os.path.join(target, 'val-*.tfrecord'),
          'val_json': os.path.join(target, 'val.json')}


def first(pattern):
  return sorted(glob.glob(pattern))[0]


def assert_one_line_error(status, stdout, stderr, program, culprit,
                          form='error: '):
  """The project's error form (`<program>: <form>...`), naming `culprit`."""
  assert status not in (0, None), (stdout, stderr)
  assert 'Traceback' not in stdout + stderr, stderr
  errors = [line for line in stderr.splitlines()
            if line.startswith(f'{program}: {form}')]
  assert len(errors) == 1, stderr
  assert stderr.strip().splitlines()[-1] == errors[0]
  assert culprit in errors[0], errors[0]
  return errors[0]


def damaged_copy(source, target, rows, row):
  """Copies the directory `source` to `target` and damages it as `row` says.

  Returns:
    (the copy, the damaged path in it, the expected problem words).
  """
  damage_fn, culprit, problem = rows[row]
  copy = copy_tree(source, target)
  damage_fn(copy)
  return copy, copy + culprit, problem


def run_in_process(capsys, main, define_flags, program, args):
  flag_values = flags.FlagValues()
  define_flags(flag_values)
  flag_values([program, *args])
  status = main([program], flag_values)
  captured = capsys.readouterr()
  return status, captured.out, captured.err


# ------------------------------------------------------------- the exporter
def _export_args(tmp_path, model_dir, extra=()):
  return ['--experiment=mnc_shapes_demo', f'--checkpoint_path={model_dir}',
          f'--export_dir={tmp_path}/exported', *extra]


EXPORT_ROWS = {
    'index truncated': (lambda m: damage.truncate(m + '/ckpt-2.index'),
                        '/ckpt-2.index', 'not a readable checkpoint index'),
    'index empty': (lambda m: damage.truncate(m + '/ckpt-2.index', 0),
                    '/ckpt-2.index', 'index is empty'),
    'index of the wrong kind': (lambda m: damage.scribble(
        m + '/ckpt-2.index'), '/ckpt-2.index', 'not a readable checkpoint'),
    'data shard deleted': (lambda m: os.remove(m + '/ckpt-2' + DATA),
                           '/ckpt-2' + DATA, 'data shard of the checkpoint '
                           'is missing'),
    'data shard truncated': (lambda m: damage.truncate(m + '/ckpt-2' + DATA),
                             '/ckpt-2' + DATA, 'data are truncated'),
    'data shard empty': (lambda m: damage.truncate(m + '/ckpt-2' + DATA, 0),
                         '/ckpt-2' + DATA, 'data are truncated'),
}


@pytest.mark.parametrize('row', sorted(EXPORT_ROWS))
def test_exporter_on_a_damaged_checkpoint(artefacts, tmp_path, capsys, row):
  model_dir, culprit, problem = damaged_copy(
      artefacts['model_dir'], str(tmp_path / 'model'), EXPORT_ROWS, row)
  status, out, err = run_in_process(
      capsys, export_saved_model.main, export_saved_model.define_flags,
      'export_saved_model', _export_args(tmp_path, model_dir))
  assert problem in assert_one_line_error(status, out, err,
                                          'export_saved_model', culprit)
  assert not os.path.exists(tmp_path / 'exported')


CONFIG_ROWS = {
    'binary': (lambda p: damage.write_bytes(p, bytes(range(256))),
               'is not text (byte 128 is not UTF-8)'),
    'empty': (lambda p: damage.write_bytes(p, b''), 'is empty'),
    'a directory': (damage.make_directory, 'is a directory'),
    'cut inside a value': (lambda p: damage.write_bytes(
        p, b'task:\n  model:\n    num_classes: [3'), 'not valid YAML'),
}


@pytest.mark.parametrize('row', sorted(CONFIG_ROWS))
def test_exporter_on_a_damaged_config_file(artefacts, tmp_path, capsys, row):
  damage_fn, problem = CONFIG_ROWS[row]
  config = str(tmp_path / 'params.yaml')
  shutil.copy(os.path.join(artefacts['model_dir'], 'params.yaml'), config)
  damage_fn(config)
  status, out, err = run_in_process(
      capsys, export_saved_model.main, export_saved_model.define_flags,
      'export_saved_model', _export_args(tmp_path, artefacts['model_dir'],
                                         [f'--config_file={config}']))
  assert problem in assert_one_line_error(status, out, err,
                                          'export_saved_model', config)


# ------------------------------------------------------------------ predict
SAVED_MODEL_ROWS = {
    'graph truncated': (lambda d: damage.truncate(d + '/saved_model.pb'),
                        '/saved_model.pb', 'not a readable SavedModel'),
    'graph empty': (lambda d: damage.truncate(d + '/saved_model.pb', 0),
                    '/saved_model.pb', 'graph is empty'),
    'graph deleted': (lambda d: os.remove(d + '/saved_model.pb'), '',
                      'holds no SavedModel'),
    'variables deleted': (lambda d: shutil.rmtree(d + '/variables'),
                          '/variables', 'no variables directory'),
    'variables truncated': (lambda d: damage.truncate(
        d + '/variables/variables' + DATA), '/variables/variables' + DATA,
                            'data are truncated'),
    'variables index of the wrong kind': (lambda d: damage.scribble(
        d + '/variables/variables.index'), '/variables/variables.index',
                                          'not a readable checkpoint index'),
}


def _predict_args(artefacts, tmp_path, *model_args):
  images = os.path.join(os.path.dirname(artefacts['paths']['val_json']),
                        'val', '*.jpg')
  return [*model_args, f'--images={images}', f'--output_dir={tmp_path}/out']


@pytest.mark.parametrize('row', sorted(SAVED_MODEL_ROWS))
def test_predict_on_a_damaged_saved_model(artefacts, tmp_path, capsys, row):
  saved_model, culprit, problem = damaged_copy(
      artefacts['saved_model'], str(tmp_path / 'sm'), SAVED_MODEL_ROWS, row)
  status, out, err = run_in_process(
      capsys, predict_cli.main, predict_cli.define_flags, 'predict',
      _predict_args(artefacts, tmp_path, f'--saved_model={saved_model}'))
  assert problem in assert_one_line_error(status, out, err, 'predict',
                                          culprit)
  assert not os.path.exists(tmp_path / 'out')


@pytest.mark.parametrize('row', ['data shard deleted', 'index truncated'])
def test_predict_on_a_damaged_checkpoint(artefacts, tmp_path, capsys, row):
  model_dir, culprit, problem = damaged_copy(
      artefacts['model_dir'], str(tmp_path / 'model'), EXPORT_ROWS, row)
  status, out, err = run_in_process(
      capsys, predict_cli.main, predict_cli.define_flags, 'predict',
      _predict_args(artefacts, tmp_path, '--experiment=mnc_shapes_demo',
                    f'--checkpoint_path={model_dir}'))
  assert problem in assert_one_line_error(status, out, err, 'predict',
                                          culprit)
  assert not os.path.exists(tmp_path / 'out')


# --------------------------------------------------------- the converters
JSON_ROWS = {
    'truncated': (damage.truncate, 'is not JSON'),
    'empty': (lambda p: damage.truncate(p, 0), 'is not JSON'),
    'binary': (lambda p: damage.write_bytes(p, bytes(range(256))),
               'is not JSON'),
    'a directory': (damage.make_directory,
                    'does not exist or is not a file'),
}


def damaged_json(artefacts, tmp_path, row):
  """A damaged copy of the validation COCO JSON; (path, problem words)."""
  damage_fn, problem = JSON_ROWS[row]
  json_path = str(tmp_path / 'val.json')
  shutil.copy(artefacts['paths']['val_json'], json_path)
  damage_fn(json_path)
  return json_path, problem


@pytest.mark.parametrize('row', sorted(JSON_ROWS))
def test_coco_converter_on_a_damaged_json(artefacts, tmp_path, capsys, row):
  json_path, problem = damaged_json(artefacts, tmp_path, row)
  image_dir = os.path.join(os.path.dirname(artefacts['paths']['val_json']),
                           'val')
  status, out, err = run_in_process(
      capsys, create_coco_tfrecord.main, create_coco_tfrecord.define_flags,
      'create_coco_tfrecord', [f'--image_dir={image_dir}',
                               f'--annotations_file={json_path}',
                               f'--output_prefix={tmp_path}/out/val'])
  assert problem in assert_one_line_error(status, out, err,
                                          'create_coco_tfrecord', json_path)
  assert not os.path.exists(tmp_path / 'out')


def test_coco_converter_on_a_truncated_image(artefacts, tmp_path, capsys):
  image_dir = copy_tree(os.path.join(os.path.dirname(
      artefacts['paths']['val_json']), 'val'), str(tmp_path / 'images'))
  image = first(os.path.join(image_dir, '*.jpg'))
  damage.truncate(image, 0.3)
  status, out, err = run_in_process(
      capsys, create_coco_tfrecord.main, create_coco_tfrecord.define_flags,
      'create_coco_tfrecord', [f'--image_dir={image_dir}',
                               f'--annotations_file='
                               f'{artefacts["paths"]["val_json"]}',
                               f'--output_prefix={tmp_path}/out/val'])
  # The converters' established form for a bad record.
  assert 'corrupt_image' in assert_one_line_error(
      status, out, err, 'create_coco_tfrecord', image,
      form='stopped at an invalid record')
  assert not glob.glob(str(tmp_path / 'out' / '*.tfrecord'))


@pytest.mark.parametrize('row', ['binary', 'a directory'])
def test_sbd_converter_on_a_damaged_split_list(tmp_path, capsys, row):
  split = str(tmp_path / 'sbd' / 'train.txt')
  os.makedirs(os.path.dirname(split))
  damage.write_bytes(split, b'2008_000002\n')
  {'binary': lambda p: damage.write_bytes(p, bytes(range(256))),
   'a directory': damage.make_directory}[row](split)
  status, out, err = run_in_process(
      capsys, create_sbd_tfrecord.main, create_sbd_tfrecord.define_flags,
      'create_sbd_tfrecord', [f'--sbd_root={tmp_path}/sbd', '--split=train',
                              f'--output_prefix={tmp_path}/out/train'])
  assert_one_line_error(status, out, err, 'create_sbd_tfrecord', split)
  assert not os.path.exists(tmp_path / 'out')


# ----------------------------------------------------------- the inspector
TFRECORD_ROWS = {
    'truncated': (damage.truncate, 'is damaged (truncated record)'),
    'overwritten byte': (damage.flip_byte, 'is damaged (corrupted record)'),
    'of the wrong kind': (damage.scribble, 'record 0 (byte 0) is damaged '
                          '(corrupted record)'),
}


@pytest.mark.parametrize('row', sorted(TFRECORD_ROWS))
def test_inspector_on_a_damaged_tfrecord(artefacts, tmp_path, capsys, row):
  damage_fn, problem = TFRECORD_ROWS[row]
  paths = copy_data(artefacts, tmp_path)
  culprit = first(paths['train_pattern'])
  damage_fn(culprit)
  status = inspect_cli.main(['inspect', '--experiment=mnc_shapes_demo',
                             f'--annotations_file={paths["train_pattern"]}'])
  captured = capsys.readouterr()
  line = assert_one_line_error(status, captured.out, captured.err, 'inspect',
                               culprit + ': record ')
  assert problem in line


@pytest.mark.parametrize('row', sorted(JSON_ROWS))
def test_inspector_on_a_damaged_json(artefacts, tmp_path, capsys, row):
  json_path, _ = damaged_json(artefacts, tmp_path, row)
  status = inspect_cli.main(['inspect', '--experiment=mnc_shapes_demo',
                             f'--annotations_file={json_path}'])
  captured = capsys.readouterr()
  assert_one_line_error(status, captured.out, captured.err, 'inspect',
                        json_path)


# ------------------------------------------------------------------ train.py
def _quick_train_rows(artefacts, root):
  """{row: (command, culprit)}: train.py damages caught before the run."""
  rows = {}

  def case(name, mode, damage_fn, culprit_fn, overrides_fn=None,
           extra_fn=None):
    """Each function takes (row directory, data paths, model_dir)."""
    directory = os.path.join(root, name.replace(' ', '_').replace(',', ''))
    os.makedirs(directory)
    paths = copy_data(artefacts, directory)
    model_dir = copy_tree(artefacts['model_dir'],
                          os.path.join(directory, 'model'))
    args = (directory, paths, model_dir)
    damage_fn(*args)
    overrides = STEPS + (overrides_fn(*args) if overrides_fn else '')
    command = train_subprocess.command(model_dir, paths, mode, overrides)
    rows[name] = (command + (extra_fn(*args) if extra_fn else []),
                  culprit_fn(*args))

  case('train, resume index truncated', 'train',
       lambda d, p, m: damage.truncate(m + '/ckpt-2.index'),
       lambda d, p, m: m + '/ckpt-2.index: not a readable checkpoint index')
  case('eval, data shard deleted', 'eval',
       lambda d, p, m: os.remove(m + '/ckpt-2' + DATA),
       lambda d, p, m: m + '/ckpt-2' + DATA + ': a data shard')
  case('train_and_eval, annotation JSON cut off', 'train_and_eval',
       lambda d, p, m: damage.truncate(p['val_json']),
       lambda d, p, m: p['val_json'] + ': task.annotation_file is not valid '
       'JSON')
  case('train, init_checkpoint truncated', 'train',
       lambda d, p, m: (shutil.move(m, d + '/init'), damage.truncate(
           d + '/init/ckpt-2' + DATA)),
       lambda d, p, m: d + '/init/ckpt-2' + DATA + ': the checkpoint data '
       'are truncated',
       overrides_fn=lambda d, p, m: f',task.init_checkpoint={d}/init/ckpt-2')
  case('train, config file binary', 'train',
       lambda d, p, m: damage.write_bytes(d + '/overrides.yaml',
                                          bytes(range(256))),
       lambda d, p, m: d + '/overrides.yaml: --config_file is not text',
       extra_fn=lambda d, p, m: [f'--config_file={d}/overrides.yaml'])
  case('train, flagfile missing', 'train', lambda d, p, m: None,
       lambda d, p, m: d + '/missing.flags: --flagfile does not exist',
       extra_fn=lambda d, p, m: [f'--flagfile={d}/missing.flags'])
  return rows


@pytest.fixture(scope='module')
def quick_train_runs(artefacts, tmp_path_factory):
  """{row: (CompletedProcess-like (rc, out, err), culprit)}; run together."""
  root = str(tmp_path_factory.mktemp('train_rows'))
  rows = _quick_train_rows(artefacts, root)
  processes = {
      name: subprocess.Popen(command, cwd=train_subprocess.REPO_ROOT,
                             env=train_subprocess.environment(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
      for name, (command, _) in rows.items()}
  results = {}
  for name, process in processes.items():
    out, err = process.communicate(timeout=300)
    results[name] = ((process.returncode, out, err), rows[name][1])
  return results


QUICK_TRAIN_ROWS = ['eval, data shard deleted', 'train, config file binary',
                    'train, flagfile missing',
                    'train, init_checkpoint truncated',
                    'train, resume index truncated',
                    'train_and_eval, annotation JSON cut off']


@pytest.mark.parametrize('row', QUICK_TRAIN_ROWS)
def test_train_py_before_the_run(quick_train_runs, row):
  (status, out, err), culprit = quick_train_runs[row]
  line = assert_one_line_error(status, out, err, 'train.py', culprit)
  assert line.startswith(f'train.py: error: {culprit}')
  if 'resume' in row:
    model_dir = os.path.dirname(culprit.split(':')[0])
    assert line.endswith('delete ckpt-2.* and write model_checkpoint_path: '
                         f'"ckpt-1" into {model_dir}/checkpoint to resume '
                         'from ckpt-1')


def _resume_with_a_damaged_shard(artefacts, tmp_path, overrides=''):
  """Resumes the 2-step run to step 4 with the last record of shard 1 cut.

  Returns:
    (CompletedProcess, model_dir, the damaged shard).
  """
  paths = copy_data(artefacts, tmp_path)
  model_dir = copy_tree(artefacts['model_dir'], str(tmp_path / 'model'))
  culprit = sorted(glob.glob(paths['train_pattern']))[1]
  damage.truncate(culprit, os.path.getsize(culprit) - 7)
  result = train_subprocess.run(
      model_dir, paths, 'train',
      STEPS.replace('train_steps=2', 'train_steps=4') + overrides)
  return result, model_dir, culprit


def test_train_py_meets_a_damaged_record_mid_run(artefacts, tmp_path):
  # The run resumes from ckpt-2 and meets the damage: one line naming the
  # file and record, and ckpt-2 stays complete and restorable.
  result, model_dir, culprit = _resume_with_a_damaged_shard(artefacts,
                                                            tmp_path)
  line = assert_one_line_error(result.returncode, result.stdout,
                               result.stderr, 'train.py', culprit)
  assert line == (f'train.py: error: {culprit}: record 1 (byte '
                  f'{_record_offset(artefacts, culprit)}) is damaged '
                  '(truncated record); convert the data again or copy this '
                  'file again; to train past it, set '
                  'task.train_data.skip_damaged_records=true')
  latest = tf.train.latest_checkpoint(model_dir)
  damaged_files.check_checkpoint(latest)
  reader = tf.train.load_checkpoint(latest)
  for name in reader.get_variable_to_shape_map():
    reader.get_tensor(name)  # every tensor reads


def _record_offset(artefacts, culprit):
  """Byte offset of record 1 of the intact copy of `culprit`."""
  intact = os.path.join(os.path.dirname(
      first(artefacts['paths']['train_pattern'])), os.path.basename(culprit))
  first_record = next(iter(tf.data.TFRecordDataset(intact))).numpy()
  return 16 + len(first_record)


def test_train_py_skips_damaged_records_when_asked(artefacts, tmp_path):
  result, model_dir, _ = _resume_with_a_damaged_shard(
      artefacts, tmp_path, ',task.train_data.skip_damaged_records=true')
  assert result.returncode == 0, result.stderr[-3000:]
  counts = [int(line.split('damaged records skipped ')[1].split(' ')[0])
            for line in result.stdout.splitlines()
            if 'damaged records skipped' in line]
  assert len(counts) == 2 and counts[-1] >= 1, result.stdout
  assert tf.train.latest_checkpoint(model_dir).endswith('ckpt-4')
  logged = []
  for events in glob.glob(os.path.join(model_dir, 'train', 'events.*')):
    for event in tf.compat.v1.train.summary_iterator(events):
      logged += [(event.step, tf.make_ndarray(v.tensor))
                 for v in event.summary.value
                 if v.tag == 'damaged_records_skipped']
  assert sorted(s for s, _ in logged) == [3, 4], logged
  assert [int(v) for _, v in sorted(logged)] == counts
