# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Small helpers shared by the CLIs and libraries (atomic writes, checkpoints, CLI main)."""
