# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Drawing of MNC predictions (TensorBoard image summaries, demo pictures)."""
