# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Repository tools (not part of the installed package).

Run from the repository root: `python -m tools.demo` (what `make demo` runs)
and `python -m tools.ablation`. They drive the repository's own entry points
(`train.py`, `export/export_saved_model.py`) in subprocesses, so they need a
source checkout with the package installed (`make install`).
"""
