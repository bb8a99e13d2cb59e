"""mnc_tf: Multi-task Network Cascades (Dai, He & Sun, CVPR 2016) for TensorFlow Model Garden."""

__version__ = '0.1.0'
