"""`make demo`: the main job end to end.

Until training lands, the demo runs the RoI-warp op benchmark.
"""
from mnc_tf.benchmarks import roi_warp as roi_warp_benchmark

if __name__ == '__main__':
  roi_warp_benchmark.main()
