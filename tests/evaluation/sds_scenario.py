# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""A small hand-analysed evaluation scenario shared by the evaluation tests.

Masks are full-height vertical strips [x0, x1) of a 4 x 100 image, so every
mask IoU is a ratio of interval lengths. Class 1 only has ground truth:

image 1: g1 = [0, 50), g2 = [20, 70);  image 2: g3 = [0, 40).

| det | image | class | score | strip    | IoU g1 | IoU g2 | IoU g3 |
| d1  | 1     | 1     | .9    | [0, 40)  | .800   | .286   |        |
| d2  | 1     | 1     | .8    | [8, 58)  | .724   | .613   |        |
| d3  | 2     | 1     | .7    | [10, 60) |        |        | .500   |
| d4  | 1     | 1     | .6    | [25, 70) | .357   | .900   |        |
| d5  | 2     | 2     | .5    | [0, 40)  | (class 2 has no ground truth)   |

SDS at 0.5: d1 TP (g1); d2's best is g1, already taken -> FP; d3 TP (IoU
exactly 0.5 counts); d4 TP (g2). Recall 1/3 1/3 2/3 1, precision
1 .5 .667 .75 -> 11-point AP (4 * 1 + 3 * .75 + 4 * .75) / 11 = 9.25 / 11;
area AP (1 + .75 + .75) / 3 = 2.5 / 3.
SDS at 0.7: TP FP FP TP -> recall 1/3 1/3 1/3 2/3, precision 1 .5 .333 .5
-> 11-point (4 * 1 + 3 * .5) / 11 = 0.5; area 1/3 + .5/3 = 0.5.
COCO at 0.5 matches d2 to the unmatched g2 instead: TP TP TP FP, so mask and
box AP50 are 1.0 (boxes are the strips' boxes).
"""
import numpy as np

HEIGHT, WIDTH = 4, 100
GT = {1: [(1, 0, 50), (1, 20, 70)], 2: [(1, 0, 40)]}
DETS = [  # (image, class, score, x0, x1)
    (1, 1, 0.9, 0, 40),
    (1, 1, 0.8, 8, 58),
    (2, 1, 0.7, 10, 60),
    (1, 1, 0.6, 25, 70),
    (2, 2, 0.5, 0, 40),
]
EXPECTED = {
    'mAPr50_07': 9.25 / 11.0, 'mAPr50_area': 2.5 / 3.0,
    'mAPr70_07': 0.5, 'mAPr70_area': 0.5,
    'mask_AP50': 1.0, 'box_AP50': 1.0,
}


def strip(x0, x1, height=HEIGHT, width=WIDTH):
  mask = np.zeros((height, width), np.uint8)
  mask[:, x0:x1] = 1
  return mask


def coco_annotation_dict():
  """The ground truth as a COCO annotation file's dict."""
  images = [{'id': i, 'height': HEIGHT, 'width': WIDTH, 'file_name': f'{i}.png'}
            for i in GT]
  anns = []
  for image_id, instances in GT.items():
    for cls, x0, x1 in instances:
      anns.append({'id': len(anns) + 1, 'image_id': image_id,
                   'category_id': cls, 'iscrowd': 0,
                   'bbox': [x0, 0, x1 - x0, HEIGHT],
                   'area': float((x1 - x0) * HEIGHT),
                   # Polygon around the strip (pixel corners).
                   'segmentation': [[x0, 0, x1, 0, x1, HEIGHT, x0, HEIGHT]]})
  return {'images': images, 'annotations': anns,
          'categories': [{'id': 1, 'name': 'one'}, {'id': 2, 'name': 'two'}]}
