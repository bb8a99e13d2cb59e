# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The `main(argv)` of an absl CLI that can also be called in-process."""
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
