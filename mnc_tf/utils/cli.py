# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The `main(argv)` of an absl CLI that can also be called in-process."""
import os
import sys
from typing import Callable, Sequence

from absl import flags


def main_on_fresh_flags(prog: str,
                        define_flags: Callable[[flags.FlagValues], None],
                        run: Callable[[flags.FlagValues], int],
                        argv: Sequence[str]) -> int:
  """Parses `argv` on a fresh `FlagValues` and runs.

  Fresh flags keep a CLI's flag names from colliding with other modules' when
  tests call several CLIs in one process.

  Args:
    prog: program name for the error message.
    define_flags: defines the CLI's flags on the `FlagValues` it is given.
    run: the CLI's body on the parsed flags; returns the exit status.
    argv: the program name, then the arguments.

  Returns:
    `run`'s exit status, or 1 (after one line on stderr) on bad flags.
  """
  flag_values = flags.FlagValues()
  define_flags(flag_values)
  try:
    flag_values(list(argv))
  except flags.Error as e:
    print(f'{prog}: error: {e}', file=sys.stderr)
    return 1
  return run(flag_values)


def _flagfile_values(args):
  """Values of the `--flagfile=X` / `--flagfile X` arguments in `args`."""
  values = []
  for i, arg in enumerate(args):
    if arg.startswith('--flagfile='):
      values.append(arg[len('--flagfile='):])
    elif arg == '--flagfile' and i + 1 < len(args):
      values.append(args[i + 1])
  return values


def check_flagfiles(argv: Sequence[str]) -> None:
  """Raises if a `--flagfile` (or one it names) is missing or not text.

  absl reports a missing flag file in two lines and an undecodable one with
  a traceback; this check runs before absl parses the flags.

  Args:
    argv: the program name, then the arguments.

  Raises:
    damaged_files.DamagedFileError: naming the flag file.
  """
  from mnc_tf.utils import damaged_files  # pylint: disable=g-import-not-at-top
  pending, seen = _flagfile_values(list(argv[1:])), set()
  while pending:
    path = os.path.expanduser(pending.pop(0))
    if path in seen:
      continue
    seen.add(path)
    damaged_files.check_text_file(path, '--flagfile')
    with open(path, encoding='utf-8') as f:
      lines = [line.strip() for line in f]
    pending.extend(_flagfile_values(lines))
