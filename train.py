"""Trains / evaluates MNC: `python train.py --flagfile=configs/<name>.flags`.

Training lands with the Training issue; until then this entry point says so.
"""
import sys

if __name__ == '__main__':
  sys.exit('train.py: training is not implemented yet (see the Training '
           'issue); `make demo` runs the RoI-warp benchmark meanwhile.')
