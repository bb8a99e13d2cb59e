# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The exporter's bad input and litter: one line, exit 1, nothing half-written.

The SavedModel itself is tested in test_export.py; here the export module and
the saver are replaced by fakes so that only the file handling runs.
"""
import os
import subprocess
import sys

from absl import flags
import pytest

from mnc_tf.serving import export_lib
from mnc_tf.serving import export_saved_model

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _dead_pid():
  process = subprocess.Popen([sys.executable, '-c', 'pass'])
  process.wait()
  return process.pid


def _run_cli(capsys, *argv):
  flag_values = flags.FlagValues()
  export_saved_model.define_flags(flag_values)
  flag_values(['export_saved_model', '--experiment=mnc_shapes_demo', *argv])
  status = export_saved_model.main(['export_saved_model'], flag_values)
  return status, capsys.readouterr()


@pytest.fixture
def fake_saver(monkeypatch):
  """Export module and saver fakes: `save` writes one file or fails."""
  calls = []

  def save(module, export_dir, checkpoint_path=None):
    del module
    os.makedirs(export_dir)
    with open(os.path.join(export_dir, 'saved_model.pb'), 'w') as f:
      f.write(str(checkpoint_path))
    calls.append(export_dir)
    if os.environ.get('FAKE_SAVE_FAILS'):
      raise RuntimeError('killed half-way')

  monkeypatch.setattr(export_lib.export_module_lib, 'MncExportModule',
                      lambda *args, **kwargs: object())
  monkeypatch.setattr(export_lib, 'save', save)
  return calls


def test_missing_checkpoint_is_one_line_and_writes_nothing(tmp_path, capsys,
                                                           fake_saver):
  export_dir = tmp_path / 'saved_model'
  status, out = _run_cli(capsys, f'--checkpoint_path={tmp_path}/nope/ckpt-3',
                         f'--export_dir={export_dir}')
  assert status == 1
  assert out.err.strip() == (
      f'export_saved_model: error: checkpoint {tmp_path}/nope/ckpt-3 does not '
      'exist (no ckpt-3.index); pass a training model_dir or an existing '
      'checkpoint prefix.')
  assert not fake_saver and not os.listdir(tmp_path)
  (tmp_path / 'model').mkdir()
  status, out = _run_cli(capsys, f'--checkpoint_path={tmp_path}/model',
                         f'--export_dir={export_dir}')
  assert status == 1 and 'no checkpoint in directory' in out.err
  assert len(out.err.strip().splitlines()) == 1


def test_bad_override_and_existing_output_are_one_line(tmp_path, capsys,
                                                       fake_saver):
  status, out = _run_cli(capsys, '--params_override=task.modle.x=1',
                         f'--export_dir={tmp_path}/sm')
  assert status == 1
  assert out.err.strip() == ('export_saved_model: error: --params_override: '
                             'unknown key task.modle; did you mean task.model.')
  (tmp_path / 'sm').mkdir()
  status, out = _run_cli(capsys, f'--export_dir={tmp_path}/sm')
  assert status == 1 and out.err.strip().endswith(
      'sm exists; pass --overwrite to replace it.')
  assert not fake_saver


def test_killed_exports_temporaries_are_removed_by_the_next(tmp_path, capsys,
                                                            fake_saver,
                                                            monkeypatch):
  export_dir = tmp_path / 'saved_model'
  stale = tmp_path / f'saved_model.tmp-{_dead_pid()}'
  stale.mkdir()
  (stale / 'variables').mkdir()
  alive = tmp_path / f'saved_model.tmp-{os.getppid()}'  # a running process
  alive.mkdir()
  monkeypatch.setenv('FAKE_SAVE_FAILS', '1')
  with pytest.raises(RuntimeError):
    export_lib.export_saved_model(None, str(export_dir))
  # The failed export left nothing of its own; the dead one's is gone.
  assert sorted(os.listdir(tmp_path)) == [alive.name]
  monkeypatch.delenv('FAKE_SAVE_FAILS')
  status, out = _run_cli(capsys, f'--export_dir={export_dir}')
  assert status == 0, out.err
  assert out.out.strip() == f'SavedModel written to {export_dir}'
  assert sorted(os.listdir(tmp_path)) == sorted([alive.name, 'saved_model'])
  assert fake_saver[-1].startswith(f'{export_dir}.tmp-{os.getpid()}')


def test_entry_point_needs_no_sys_path_edit():
  with open(os.path.join(REPO_ROOT, 'export', 'export_saved_model.py')) as f:
    text = f.read()
  assert 'sys.path' not in text
  assert 'export_saved_model.run()' in text


def test_no_private_keras_import_and_signature_keys():
  with open(export_lib.__file__) as f:
    assert 'tf_keras.src' not in f.read()
  assert export_lib.signature_keys() == {
      'image_tensor': 'image_tensor', 'image_bytes': 'image_bytes',
      'tf_example': 'tf_example'}
