"""Ops of mnc_tf: RoI warping (custom op + pure-TF twin) and friends."""
from mnc_tf.ops.roi_warp import custom_op_available
from mnc_tf.ops.roi_warp import roi_warp
