# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Tracked files speak only of the project.

No absolute path of a development machine, no words about the process that
produced the project (the patterns below name each kind), and no citation of
a design file that is not in the repository: the design notes are
docs/design.md. The phrases are assembled from pieces so that this file does
not itself contain them.
"""
import os
import re
import subprocess

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THIS_FILE = os.path.relpath(os.path.abspath(__file__), REPO_ROOT)
FORBIDDEN = {
    'absolute path': re.compile('/' + r'work/'),
    'process word': re.compile('work' + r'[ -]items?\b', re.I),
    'tracker reference': re.compile(r'\b' + 'issues?' + r' #?\d+\b', re.I),
    'role': re.compile(r'\b(' + 'lead|the ' + 'lead)' + r' engineer\b|\bthe '
                       + r'lead\b', re.I),
    'missing design file': re.compile('DESIGN' + r'\.md|DEVELOPERS' + r'\.md'),
}


def offending_lines(text):
  """(what, line number, line) for every forbidden phrase in `text`."""
  found = []
  for number, line in enumerate(text.splitlines(), 1):
    for what, pattern in FORBIDDEN.items():
      if pattern.search(line):
        found.append((what, number, line.strip()))
  return found


def test_patterns_catch_what_they_name():
  text = ('see /' + 'work/main/x\n' + 'Work' + ' item 7\n' + 'fixed in '
          + 'issue' + ' 15\n' + 'ask the ' + 'lead\n' + 'DESIGN' + '.md §4\n'
          + 'docs/design.md §4, issued one atomicAdd, the leading dim\n')
  assert [f[:2] for f in offending_lines(text)] == [
      ('absolute path', 1), ('process word', 2), ('tracker reference', 3),
      ('role', 4),
      ('missing design file', 5)]


def test_tracked_files_speak_only_of_the_project():
  try:
    files = subprocess.run(['git', 'ls-files', '-z'], cwd=REPO_ROOT,
                           capture_output=True, check=True).stdout
  except (OSError, subprocess.CalledProcessError):
    pytest.skip('not a git checkout')
  found = []
  for name in files.decode().split('\0'):
    path = os.path.join(REPO_ROOT, name)
    if not name or name == THIS_FILE or not os.path.isfile(path):
      continue
    with open(path, 'rb') as f:
      data = f.read()
    if b'\0' in data:
      continue  # binary
    found += [f'{name}:{n}: {what}: {line}' for what, n, line in
              offending_lines(data.decode('utf-8', 'replace'))]
  assert not found, '\n'.join(found)
