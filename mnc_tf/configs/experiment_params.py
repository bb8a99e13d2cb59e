# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""An experiment's params from flags, checked before anything is written.

Model Garden's `train_utils.parse_configuration` lets a misspelt key end in a
`KeyError` traceback and a wrong-typed value (`trainer.train_steps=thirty`)
through into `params.yaml` and a crash much later. `parse` applies the same
steps (`--experiment`, each `--config_file`, `--tpu`, `--params_override`,
`validate`, `lock`) and turns every such mistake into a `ParamsError` whose
one-line message names the input and the fix:

- an unknown experiment lists the registered ones;
- an unknown key gives its full dotted path and the close valid names;
- a value whose type does not fit the field's annotation (int, float, bool,
  str, or Optional of these) names the key, the value and the type;
- with `mode`, a training or evaluation input path that matches no file.
"""
import dataclasses
import difflib
import typing
from typing import Any, Dict, List, Optional, Sequence

import tensorflow as tf
import yaml

from official.core import exp_factory
from official.modeling.hyperparams import base_config
from official.modeling.hyperparams import params_dict
from mnc_tf.evaluation import instance_evaluator
from mnc_tf.utils import damaged_files


class ParamsError(ValueError):
  """A bad experiment name, override key or value; the message is one line."""


def registered_experiments(mnc_only: bool = True) -> List[str]:
  """Names of the experiments registered with `exp_factory`, sorted.

  Args:
    mnc_only: only those registered by `mnc_tf` (Model Garden's own vision
      experiments are registered too once `official.vision` is imported).
  """
  registry = exp_factory._REGISTERED_CONFIGS  # pylint: disable=protected-access
  return sorted(
      name for name, factory in registry.items()
      if not mnc_only or getattr(factory, '__module__', '').startswith(
          'mnc_tf'))


def base_experiment(name: Optional[str]):
  """The registered experiment `name`.

  Raises:
    ParamsError: no name, or a name that is not registered.
  """
  names = ', '.join(registered_experiments())
  if not name:
    raise ParamsError(f'--experiment is required; MNC experiments: {names}.')
  if name not in registered_experiments(mnc_only=False):
    close = difflib.get_close_matches(name, registered_experiments(), n=1)
    hint = f' (did you mean {close[0]}?)' if close else ''
    raise ParamsError(f'unknown --experiment={name}{hint}; MNC experiments: '
                      f'{names}.')
  return exp_factory.get_exp_config(name)


def override_dict(source: str, where: str) -> Dict[str, Any]:
  """A `--params_override` / `--config_file` value as a nested dict.

  Accepts what `params_dict.override_params_dict` accepts: comma-separated
  `a.b=v` pairs, a YAML/JSON string, or the path of a YAML file.

  Raises:
    ParamsError: unreadable file, bad YAML, or not a mapping.
  """
  text = source
  try:
    text = params_dict.nested_csv_str_to_json_str(source)
  except ValueError:
    pass
  try:
    value = yaml.load(text, Loader=params_dict._LOADER)  # pylint: disable=protected-access
    if not isinstance(value, dict):
      if not tf.io.gfile.exists(source):
        raise ParamsError(
            f'{where}={source!r} is neither key=value pairs, a YAML mapping, '
            'nor an existing file.')
      with tf.io.gfile.GFile(source) as f:
        value = yaml.load(f, Loader=params_dict._LOADER)  # pylint: disable=protected-access
  except yaml.YAMLError as e:
    first = str(e).strip().splitlines()[0]
    raise ParamsError(f'{where}={source!r}: not valid YAML ({first}).') from e
  if value is None:
    return {}
  if not isinstance(value, dict):
    raise ParamsError(f'{where}={source!r} does not hold a mapping of keys.')
  return value


def known_keys(config: Any) -> Any:
  """Every settable key of `config`, nested like `as_dict()`.

  Unlike `as_dict()`, a one-of config (`trainer.optimizer_config.
  learning_rate`, `...optimizer`, `task.model.backbone`) lists all its
  branches, not only the selected `type`: a file may switch the type and set
  the new branch (`type: cosine` with `cosine: {...}`).
  """
  if isinstance(config, base_config.Config):
    return {f.name: known_keys(getattr(config, f.name))
            for f in dataclasses.fields(config)}
  if isinstance(config, params_dict.ParamsDict):
    return config.as_dict()
  return config


def check_keys(known: Dict[str, Any], override: Dict[str, Any], where: str,
               prefix: str = '') -> None:
  """Raises `ParamsError` on the first key of `override` not in `known`.

  Args:
    known: `known_keys(params)` (or a sub-dict of it).
    override: the nested override.
    where: the flag it came from, for the message.
    prefix: dotted path of `known` (recursion).
  """
  for key, value in override.items():
    path = f'{prefix}{key}'
    if key not in known:
      close = difflib.get_close_matches(str(key), list(known), n=3,
                                        cutoff=0.6)
      if close:
        hint = 'did you mean ' + ' or '.join(f'{prefix}{c}' for c in close)
      else:
        shown = sorted(known)[:12]
        hint = (f'valid keys under {prefix.rstrip(".") or "the top"}: '
                + ', '.join(shown) + (', ...' if len(known) > 12 else ''))
      raise ParamsError(f'{where}: unknown key {path}; {hint}.')
    if isinstance(value, dict) and isinstance(known[key], dict):
      check_keys(known[key], value, where, prefix=f'{path}.')


def _scalar_type(hint) -> Optional[type]:
  """int/float/bool/str for `X` or `Optional[X]` annotations, else None."""
  if typing.get_origin(hint) is typing.Union:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    hint = args[0] if len(args) == 1 else None
  return hint if hint in (int, float, bool, str) else None


def _fits(value, wanted: type) -> bool:
  if value is None:
    return True
  if wanted is bool:
    return isinstance(value, bool)
  if wanted is int:
    return isinstance(value, int) and not isinstance(value, bool)
  if wanted is float:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
  return not isinstance(value, (dict, list, tuple))  # str: any scalar


_TYPE_WORDS = {int: 'an integer', float: 'a number', bool: 'true or false',
               str: 'a string'}


def check_types(config: base_config.Config, prefix: str = '') -> None:
  """Raises `ParamsError` on a field whose value does not fit its type."""
  try:
    hints = typing.get_type_hints(type(config))
  except Exception:  # pylint: disable=broad-except
    hints = {}
  for field in dataclasses.fields(config):
    value = getattr(config, field.name, None)
    path = f'{prefix}{field.name}'
    if isinstance(value, base_config.Config):
      check_types(value, prefix=f'{path}.')
      continue
    if isinstance(value, (list, tuple)):
      for i, item in enumerate(value):
        if isinstance(item, base_config.Config):
          check_types(item, prefix=f'{path}[{i}].')
      continue
    wanted = _scalar_type(hints.get(field.name))
    if wanted is not None and not _fits(value, wanted):
      raise ParamsError(f'{path}={value!r}: expected {_TYPE_WORDS[wanted]} '
                        f'({type(config).__name__}.{field.name} is '
                        f'{wanted.__name__}).')


def _patterns(input_path) -> List[str]:
  if isinstance(input_path, str):
    return [p for p in input_path.split(',') if p]
  return [p for p in (input_path or []) if p]


def check_inputs(params, mode: str) -> None:
  """Raises `ParamsError` if an input the mode reads matches no file."""
  sections = []
  if 'train' in mode:
    sections.append('train_data')
  if 'eval' in mode:
    sections.append('validation_data')
  for section in sections:
    data = getattr(params.task, section, None)
    if data is None or getattr(data, 'tfds_name', None):
      continue
    patterns = _patterns(getattr(data, 'input_path', None))
    if not patterns:
      what = 'training' if section == 'train_data' else 'validation'
      raise ParamsError(
          f'No input_path for the {what} data: pass '
          f'--params_override=task.{section}.input_path=<TFRecord pattern>.')
    for pattern in patterns:
      if not tf.io.gfile.glob(pattern):
        raise ParamsError(
            f'task.{section}.input_path={pattern!r} matches no file: make the '
            'TFRecords first (docs/getting_started.md, "Data") or pass the '
            f'right path with --params_override=task.{section}.input_path=...')
  if 'eval' in mode:
    try:
      instance_evaluator.check_size_bins(getattr(params.task, 'size_bins', ()))
    except ValueError as e:
      raise ParamsError(f'task.{e}') from None
  annotation_file = getattr(params.task, 'annotation_file', None)
  if 'eval' in mode and annotation_file and not tf.io.gfile.exists(
      annotation_file):
    raise ParamsError(
        f'task.annotation_file={annotation_file!r} does not exist: make it '
        "first or pass --params_override=task.annotation_file='' to take the "
        'ground truth from the validation records.')
  if 'eval' in mode and annotation_file:
    try:
      damaged_files.check_json_file(annotation_file, 'task.annotation_file')
    except damaged_files.DamagedFileError as e:
      raise ParamsError(str(e)) from None


def check_config_file(path: str) -> None:
  """Raises `ParamsError` if a `--config_file` is missing, empty or not text."""
  if not tf.io.gfile.exists(path):
    raise ParamsError(f'--config_file={path}: no such file.')
  try:
    damaged_files.check_text_file(path, '--config_file')
  except damaged_files.DamagedFileError as e:
    raise ParamsError(str(e)) from None
  if not tf.io.gfile.GFile(path).read().strip():
    raise ParamsError(f'{path}: --config_file is empty (a cut-off copy?); '
                      'copy it again or leave the flag out.')


def parse(experiment: Optional[str], config_files: Sequence[str] = (),
          params_override: str = '', tpu: Optional[str] = None,
          mode: Optional[str] = None, tf_data_service: Optional[str] = None):
  """The experiment's params with files and overrides applied and checked.

  Args:
    experiment: a registered experiment name.
    config_files: YAML files applied in order.
    params_override: comma-separated `a.b=v`, YAML/JSON string or file,
      applied last.
    tpu: `--tpu`, set into `runtime.tpu` as Model Garden does (None: kept).
    mode: when given (train, eval, train_and_eval, continuous_eval), also
      checks that the inputs this mode reads exist.
    tf_data_service: `--tf_data_service`, set into both inputs as Model
      Garden does (before `params_override`).

  Returns:
    the validated, locked `cfg.ExperimentConfig`.

  Raises:
    ParamsError: any bad input, with a one-line message.
  """
  params = base_experiment(experiment)
  sources = [('--config_file', path) for path in config_files or []]
  if tf_data_service:
    sources.append(('--tf_data_service', {'task': {
        'train_data': {'tf_data_service_address': tf_data_service},
        'validation_data': {'tf_data_service_address': tf_data_service}}}))
  if params_override:
    sources.append(('--params_override', params_override))
  for where, source in sources:
    if where == '--config_file':
      check_config_file(source)
    override = (source if isinstance(source, dict)
                else override_dict(source, where))
    check_keys(known_keys(params), override, where)
    try:
      params.override(override, is_strict=True)
    except (KeyError, ValueError, TypeError, AttributeError) as e:
      raise ParamsError(f'{where}={source!r}: {e}') from e
  if tpu is not None:
    params.override({'runtime': {'tpu': tpu}})
  check_types(params)
  try:
    params.validate()
  except (KeyError, ValueError, TypeError, AttributeError) as e:
    raise ParamsError(f'the resolved params are inconsistent: {e}') from e
  params.lock()
  if mode:
    check_inputs(params, mode)
  return params


def parse_flags(flags_obj, check_data: bool = True):
  """`parse` from Model Garden's training flags (`official.common.flags`).

  `--tf_data_service` is applied to both inputs, as Model Garden does.
  """
  return parse(flags_obj.experiment, flags_obj.config_file or [],
               flags_obj.params_override or '',
               tpu=getattr(flags_obj, 'tpu', None),
               mode=flags_obj.mode if check_data else None,
               tf_data_service=getattr(flags_obj, 'tf_data_service', None))
