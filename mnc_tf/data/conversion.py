# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The loop shared by the converters: workers, progress, summary, atomicity.

A converter supplies a list of per-image tasks and a picklable function
`convert_fn(task) -> ImageResult`.  `run_conversion` maps it over the tasks
(in this process, or in a pool of forked workers), writes the examples in
task order, round-robin over the shards, prints progress and a summary, and
either commits all files or, at the first invalid record when
`skip_invalid` is off, deletes them and raises.
"""

import collections
import dataclasses
import json
import multiprocessing
import sys
import time
from typing import List, Optional

from absl import app
from absl import flags

from mnc_tf.data import errors
from mnc_tf.data import record_writer


@dataclasses.dataclass
class ImageResult:
  """What converting one image gave.

  Attributes:
    serialized: the serialized tf.Example, or None when the image is skipped.
    num_instances: instances in the example.
    problems: the InvalidRecordErrors met (image-level ones mean the image
      was skipped, the others that one instance was).
  """
  serialized: Optional[bytes]
  num_instances: int = 0
  problems: List[errors.InvalidRecordError] = dataclasses.field(
      default_factory=list)


@dataclasses.dataclass
class Summary:
  """Counts of a conversion run."""
  images: int = 0
  instances: int = 0
  images_skipped: int = 0
  instances_skipped: int = 0
  skipped_by_reason: dict = dataclasses.field(
      default_factory=collections.Counter)
  seconds: float = 0.0

  def as_dict(self):
    return {'images': self.images, 'instances': self.instances,
            'images_skipped': self.images_skipped,
            'instances_skipped': self.instances_skipped,
            'skipped_by_reason': dict(sorted(self.skipped_by_reason.items())),
            'seconds': round(self.seconds, 3)}

  def format(self, name):
    lines = ['%s: wrote %d images, %d instances in %.1f s'
             % (name, self.images, self.instances, self.seconds),
             '%s: skipped %d images, %d instances'
             % (name, self.images_skipped, self.instances_skipped)]
    for reason, count in sorted(self.skipped_by_reason.items()):
      lines.append('%s:   %-24s %d' % (name, reason, count))
    return '\n'.join(lines)


def _log(name, text):
  print('%s: %s' % (name, text), file=sys.stderr, flush=True)


class ConversionFailed(Exception):
  """Raised when an invalid record stops a run without --skip_invalid."""


class InputError(ValueError):
  """An input file is unusable as a whole; the message names it and the fix."""


def define_common_flags(flag_values=flags.FLAGS):
  """Defines the flags every converter has on `flag_values`."""
  flags.DEFINE_string('output_prefix', None,
                      'Shards go to <prefix>-SSSSS-of-NNNNN.tfrecord.',
                      flag_values=flag_values)
  flags.DEFINE_integer('num_shards', 8, 'Number of TFRecord shards.',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_integer('num_workers', 0, '0: convert in this process; N: N '
                       'worker processes.', lower_bound=0,
                       flag_values=flag_values)
  flags.DEFINE_bool('skip_invalid', False, 'Skip and count invalid records '
                    'instead of stopping.', flag_values=flag_values)
  flags.DEFINE_integer('log_every', 100, 'Progress line every this many '
                       'images.', lower_bound=1, flag_values=flag_values)
  flags.DEFINE_bool('overwrite', False, 'Delete shards of this '
                    '--output_prefix written with another --num_shards.',
                    flag_values=flag_values)


def common_options(flag_values):
  """The common flags' values as keyword arguments of a `convert`."""
  return {name: flag_values[name].value for name in (
      'num_shards', 'num_workers', 'skip_invalid', 'log_every', 'overwrite')}


def run_main(name, argv, flag_values, required, convert_call,
             input_errors=(OSError,)):
  """A converter CLI's `main`: checks the flags, then `run_cli`.

  Args:
    name: program name for the messages.
    argv: the arguments absl left (only the program name is expected).
    flag_values: the parsed flags.
    required: names of the flags that must have a value.
    convert_call: no-argument callable doing the conversion.
    input_errors: see `run_cli`.

  Returns:
    The process exit status.
  """
  if len(argv) > 1:
    raise app.UsageError('unexpected arguments: %s' % ' '.join(argv[1:]))
  missing = ['--' + flag for flag in required
             if flag_values[flag].value in (None, '')]
  if missing:
    print('%s: error: %s required' % (name, ', '.join(missing)),
          file=sys.stderr)
    return 1
  return run_cli(name, convert_call, input_errors)


def run_cli(name, convert_call, input_errors=(OSError,)):
  """Runs a converter for a CLI `main`: 0 on success, 1 with a message.

  Every failure is one line on stderr naming the culprit; no output file is
  left (the writer removes its temporaries).

  Args:
    name: program name for the messages.
    convert_call: no-argument callable doing the conversion.
    input_errors: exception types that mean unreadable / malformed input.

  Returns:
    The process exit status.
  """
  try:
    convert_call()
  except ConversionFailed as e:
    print('%s: stopped at an invalid record (use --skip_invalid to skip '
          'such records); no output written: %s' % (name, e),
          file=sys.stderr)
    return 1
  except (InputError, record_writer.OutputError) as e:
    print('%s: error: %s' % (name, e), file=sys.stderr)
    return 1
  except input_errors as e:
    print('%s: error: %s' % (name, e), file=sys.stderr)
    return 1
  return 0


def run_conversion(tasks, convert_fn, output_prefix, num_shards,
                   id_to_name, name, skip_invalid=False, num_workers=0,
                   log_every=100, extra_problems=(), overwrite=False):
  """Converts every task and writes shards, label map and summary.

  Args:
    tasks: list of picklable per-image tasks.
    convert_fn: picklable function task -> ImageResult.
    output_prefix: shards go to `<prefix>-SSSSS-of-NNNNN.tfrecord`, the
      label map to `<prefix>.label_map.json` and the summary to
      `<prefix>.summary.json`.
    num_shards: number of shards.
    id_to_name: {category id: name} for the label map.
    name: program name for messages.
    skip_invalid: skip (and count) invalid records instead of stopping.
    num_workers: 0 converts in this process; N > 0 uses N forked workers.
    log_every: print progress every this many images.
    extra_problems: InvalidRecordErrors found before conversion (such as
      annotations that name an unknown image); they count like the others.
    overwrite: delete shards of `output_prefix` with another shard count
      (otherwise their presence is an error).

  Returns:
    Summary.

  Raises:
    ConversionFailed: at the first invalid record if not `skip_invalid`
      (after deleting every temporary file).
    record_writer.OutputError: the output cannot be written (see
      `record_writer.ShardedRecordWriter`).
  """
  summary = Summary()
  start = time.time()

  def record_problem(problem):
    if not skip_invalid:  # the CLI prints it, once
      raise ConversionFailed(str(problem))
    _log(name, 'skipped: ' + str(problem))
    summary.skipped_by_reason[problem.reason] += 1
    if problem.reason in errors.IMAGE_LEVEL_REASONS:
      summary.images_skipped += 1
    else:
      summary.instances_skipped += 1

  pool = None
  with record_writer.ShardedRecordWriter(output_prefix, num_shards,
                                        overwrite=overwrite) as writer:
    try:
      for problem in extra_problems:
        record_problem(problem)
      if num_workers and num_workers > 0:
        pool = multiprocessing.get_context('fork').Pool(num_workers)
        results = pool.imap(convert_fn, tasks, chunksize=4)
      else:
        results = map(convert_fn, tasks)
      for index, result in enumerate(results):
        for problem in result.problems:
          record_problem(problem)
        if result.serialized is not None:
          writer.write(result.serialized)
          summary.images += 1
          summary.instances += result.num_instances
        done = index + 1
        if log_every and (done % log_every == 0 or done == len(tasks)):
          elapsed = max(time.time() - start, 1e-9)
          _log(name, '%d/%d images, %d instances, %d skipped, %.1f images/s'
               % (done, len(tasks), summary.instances,
                  summary.images_skipped + summary.instances_skipped,
                  done / elapsed))
    finally:
      if pool is not None:
        pool.terminate()
        pool.join()
    summary.seconds = time.time() - start
    writer.add_side_file(
        record_writer.label_map_path(output_prefix),
        lambda path: record_writer.write_label_map_file(path, id_to_name))

    def write_summary(path):
      with open(path, 'w') as f:
        json.dump(summary.as_dict(), f, indent=1)
    writer.add_side_file(output_prefix + '.summary.json', write_summary)
    writer.commit()
  _log(name, 'shards: %s-*-of-%05d.tfrecord' % (output_prefix, num_shards))
  print(summary.format(name), file=sys.stderr, flush=True)
  return summary
