# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Runs a benchmark CLI (`python -m <module>`) from the repository root."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def run(module, *args):
  """`python -m module *args`; the CompletedProcess (text, not checked)."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run([sys.executable, '-m', module, *args],
                        capture_output=True, text=True, cwd=REPO, env=env,
                        timeout=600, check=False)
