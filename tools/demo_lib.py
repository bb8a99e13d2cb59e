# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The demo's reusable steps: synthetic data, training, export and predict.

`tools/demo.py` (the `make demo` CLI) and `tools/ablation.py` build on these;
each step runs the project's own entry point (`train.py`,
`export/export_saved_model.py`, `python -m mnc_tf.predict`) as a subprocess so
that the demo exercises exactly what a user runs.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Dict, Optional

from mnc_tf.data import create_coco_tfrecord
from mnc_tf.data import synthetic_shapes
from mnc_tf.utils import atomic_io

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT_DIR = os.path.join(REPO_ROOT, 'demo_out')
TARGET_MASK_AP50 = 0.8
REPORTED_METRICS = ('mask_AP', 'mask_AP50', 'mask_AP75', 'box_AP', 'box_AP50',
                    'mAPr50', 'mAPr70')


def stage(message: str) -> None:
  """Prints a stage banner."""
  print(f'\n=== demo: {message}', flush=True)


def data_paths(output_dir: str) -> Dict[str, str]:
  """Where `make_data` puts the annotation JSON and the TFRecords."""
  return {
      'val_json': os.path.join(output_dir, 'shapes', 'val.json'),
      'train_pattern': os.path.join(output_dir, 'data', 'train-*.tfrecord'),
      'val_pattern': os.path.join(output_dir, 'data', 'val-*.tfrecord'),
  }


def make_data(output_dir: str, num_train: int, num_val: int, seed: int,
              regenerate: bool = False) -> Dict[str, str]:
  """Synthetic images + COCO JSON, then TFRecords; reuses existing ones.

  The set is reused when `<output_dir>/data/DONE.json` records the same
  sizes and seed (written last, so an interrupted run is redone).

  Returns:
    dict with `val_json`, `train_pattern`, `val_pattern`.
  """
  shapes_dir = os.path.join(output_dir, 'shapes')
  data_dir = os.path.join(output_dir, 'data')
  stamp = os.path.join(data_dir, 'DONE.json')
  wanted = {'num_train': num_train, 'num_val': num_val, 'seed': seed}
  if not regenerate and os.path.exists(stamp):
    with open(stamp) as f:
      if json.load(f) == wanted:
        print(f'reusing the data set in {output_dir} ({wanted})')
        return data_paths(output_dir)
  for directory in (shapes_dir, data_dir):
    shutil.rmtree(directory, ignore_errors=True)
  start = time.time()
  paths = synthetic_shapes.generate(shapes_dir, num_train=num_train,
                                    num_val=num_val, seed=seed)
  print(f'synthetic shapes: {num_train} train / {num_val} val images in '
        f'{time.time() - start:.1f} s -> {shapes_dir}')
  os.makedirs(data_dir, exist_ok=True)
  for split, shards in (('train', 4), ('val', 1)):
    create_coco_tfrecord.convert(
        os.path.join(shapes_dir, split), paths[split],
        os.path.join(data_dir, split), num_shards=shards, log_every=10 ** 9)
  atomic_io.write_json(stamp, wanted)
  print(f'TFRecords in {data_dir} ({time.time() - start:.1f} s in all)')
  return data_paths(output_dir)


def _subprocess_env() -> Dict[str, str]:
  env = dict(os.environ)
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  return env


def train_and_evaluate(paths: Dict[str, str], model_dir: str,
                       train_steps: Optional[int] = None,
                       extra_override: str = '') -> None:
  """Runs `train.py --flagfile=configs/mnc_shapes_demo.flags` on `paths`.

  Args:
    paths: what `make_data` returns.
    model_dir: the training directory (resumed if it holds a checkpoint).
    train_steps: overrides `trainer.train_steps` when truthy.
    extra_override: more comma-separated `--params_override` entries.

  Raises:
    subprocess.CalledProcessError: training failed.
  """
  override = [f"task.annotation_file='{paths['val_json']}'",
              f"task.train_data.input_path='{paths['train_pattern']}'",
              f"task.validation_data.input_path='{paths['val_pattern']}'"]
  if train_steps:
    override.append(f'trainer.train_steps={int(train_steps)}')
  if extra_override:
    override.append(extra_override)
  command = [sys.executable, os.path.join(REPO_ROOT, 'train.py'),
             '--flagfile=' + os.path.join(REPO_ROOT, 'configs',
                                          'mnc_shapes_demo.flags'),
             f'--model_dir={model_dir}', '--mode=train_and_eval',
             '--params_override=' + ','.join(override)]
  print(' '.join(command), flush=True)
  subprocess.run(command, check=True, cwd=REPO_ROOT, env=_subprocess_env())


def latest_metrics(model_dir: str) -> Dict[str, object]:
  """The newest evaluation in `<model_dir>/eval_metrics.json`.

  Returns:
    dict with `step` and `metrics` (name -> value).
  """
  with open(os.path.join(model_dir, 'eval_metrics.json')) as f:
    return json.load(f)['latest']


def export_and_predict(paths: Dict[str, str], model_dir: str,
                       output_dir: str):
  """Exports the trained model and predicts the validation images with it.

  Returns:
    (SavedModel directory, predictions directory).
  """
  saved_model = os.path.join(output_dir, 'saved_model')
  predictions = os.path.join(output_dir, 'predictions')
  val_images = os.path.join(os.path.dirname(paths['val_json']), 'val', '*')
  for command in (
      [sys.executable, os.path.join(REPO_ROOT, 'export',
                                    'export_saved_model.py'),
       '--experiment=mnc_shapes_demo', f'--checkpoint_path={model_dir}',
       f'--export_dir={saved_model}', '--overwrite'],
      [sys.executable, '-m', 'mnc_tf.predict', f'--saved_model={saved_model}',
       f'--images={val_images}', f'--output_dir={predictions}',
       f"--annotation_file={paths['val_json']}"]):
    print(' '.join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO_ROOT, env=_subprocess_env())
  return saved_model, predictions


def run_demo(output_dir: str, num_train: int = 1000, num_val: int = 50,
             seed: int = 0, train_steps: int = 0, params_override: str = '',
             keep_model: bool = False, regenerate_data: bool = False) -> int:
  """The whole demo: data, training + evaluation, report, export, predict.

  Returns:
    0 when mask AP50 reaches `TARGET_MASK_AP50`, else 1.
  """
  start = time.time()
  output_dir = os.path.abspath(output_dir)
  model_dir = os.path.join(output_dir, 'model')

  stage('1/3 synthetic data -> TFRecords')
  paths = make_data(output_dir, num_train, num_val, seed,
                    regenerate=regenerate_data)
  data_seconds = time.time() - start

  stage('2/3 train mnc_shapes_demo (train.py), evaluating on the val split')
  if not keep_model:
    shutil.rmtree(model_dir, ignore_errors=True)
  train_start = time.time()
  train_and_evaluate(paths, model_dir, train_steps, params_override)
  train_seconds = time.time() - train_start

  stage('3/3 results')
  latest = latest_metrics(model_dir)
  metrics = latest['metrics']
  for name in REPORTED_METRICS:
    print(f'  {name:10s} {metrics.get(name)}')
  ap50 = metrics.get('mask_AP50') or 0.0
  verdict = 'reached' if ap50 >= TARGET_MASK_AP50 else 'NOT reached'
  print(f'mask AP50 {ap50:.3f}: target {TARGET_MASK_AP50} {verdict} '
        f'(step {latest["step"]})')
  pictures = os.path.join(model_dir, 'validation_predictions',
                          f'step_{int(latest["step"]):07d}')
  print(f'time: data {data_seconds:.0f} s, training + evaluation '
        f'{train_seconds:.0f} s, total {time.time() - start:.0f} s')
  print(f'pictures of predictions: {pictures}')
  print(f'TensorBoard logs:        tensorboard --logdir {model_dir}')
  print(f'metrics (every eval):    '
        f'{os.path.join(model_dir, "eval_metrics.json")}')
  print(f'resolved params:         {os.path.join(model_dir, "params.yaml")}')
  stage('export the SavedModel and predict the val images with it')
  saved_model, predictions = export_and_predict(paths, model_dir, output_dir)
  print(f'SavedModel:              {saved_model}')
  print(f'predictions (SavedModel): {predictions}')
  return 0 if ap50 >= TARGET_MASK_AP50 else 1
