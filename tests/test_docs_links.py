# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Every relative link in README.md and docs/*.md points at a file that exists.

Links are Markdown `[text](target)`; web links (`http:`, `https:`, `mailto:`)
and same-page anchors (`#...`) are left alone, and a target's `#anchor` is
dropped (anchors are not checked). A target is resolved against the directory
of the page that holds it and must stay inside the repository.
"""
import glob
import os
import re

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
CODE = re.compile(r'```.*?```|`[^`\n]*`', re.S)


def pages():
  return [os.path.join(REPO_ROOT, 'README.md')] + sorted(
      glob.glob(os.path.join(REPO_ROOT, 'docs', '**', '*.md'), recursive=True))


def relative_links(text):
  """Link targets outside code, without web links, anchors and queries."""
  targets = []
  for target in LINK.findall(CODE.sub('', text)):
    if re.match(r'[a-z][a-z0-9+.-]*:', target) or target.startswith('#'):
      continue
    targets.append(target.split('#', 1)[0])
  return targets


def broken_links(page, root=REPO_ROOT):
  """Targets of `page` that are missing or outside `root`."""
  with open(page) as f:
    text = f.read()
  broken = []
  for target in relative_links(text):
    path = os.path.normpath(os.path.join(os.path.dirname(page), target))
    inside = os.path.commonpath([path, root]) == root
    if not inside or not os.path.exists(path):
      broken.append(target)
  return broken


def test_relative_links_finds_links_and_skips_the_rest():
  text = ('[a](docs/x.md) [b](https://e.org/y.md) [c](#top) '
          '[d](model.md#the-table) `[e](not/a/link.md)`\n'
          '```\n[f](in/code.md)\n```\n[g](../LICENSE "title")')
  assert relative_links(text) == ['docs/x.md', 'model.md', '../LICENSE']


def test_missing_and_outside_targets_are_reported(tmp_path):
  (tmp_path / 'docs').mkdir()
  page = tmp_path / 'docs' / 'page.md'
  page.write_text('[here](page.md) [up](../docs) [gone](nowhere.md) '
                  '[out](../../elsewhere.md)')
  assert broken_links(str(page), root=str(tmp_path)) == [
      'nowhere.md', '../../elsewhere.md']


@pytest.mark.parametrize('page', pages(),
                         ids=lambda p: os.path.relpath(p, REPO_ROOT))
def test_every_relative_link_resolves(page):
  assert not broken_links(page), (
      f'{os.path.relpath(page, REPO_ROOT)}: links to missing files: '
      f'{broken_links(page)}')


def test_readme_links_the_docs():
  """The README is a map: it links every page under docs/."""
  with open(os.path.join(REPO_ROOT, 'README.md')) as f:
    linked = {os.path.normpath(t) for t in relative_links(f.read())}
  docs = {os.path.relpath(p, REPO_ROOT) for p in glob.glob(
      os.path.join(REPO_ROOT, 'docs', '*.md'))}
  assert docs, 'no pages under docs/'
  assert not docs - linked, f'README.md does not link {sorted(docs - linked)}'
