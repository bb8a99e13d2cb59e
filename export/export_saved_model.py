# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Exports an MNC experiment as a SavedModel for TF Serving.

    python export/export_saved_model.py --experiment=mnc_shapes_demo \
        --checkpoint_path=demo_out/model --export_dir=demo_out/saved_model

The flags and the export live in `mnc_tf.serving.export_saved_model` and
`mnc_tf.serving.export_lib` (`--helpfull` lists the flags); this file is the
entry point Model Garden's layout puts here. It needs the package installed
(`make install` / `pip install .`).
"""
from mnc_tf.serving import export_saved_model

if __name__ == '__main__':
  export_saved_model.run()
