// Op definitions: MncTf>RoiWarp and MncTf>RoiWarpGrad (docs/design.md §4).
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace mnc_tf {

using ::tensorflow::Status;
using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

namespace {

Status GridSize(InferenceContext* c, int* grid) {
  int output_size, pooled_size;
  float spatial_scale;
  TF_RETURN_IF_ERROR(c->GetAttr("output_size", &output_size));
  TF_RETURN_IF_ERROR(c->GetAttr("pooled_size", &pooled_size));
  TF_RETURN_IF_ERROR(c->GetAttr("spatial_scale", &spatial_scale));
  if (!(spatial_scale > 0.0f) || !std::isfinite(spatial_scale)) {
    return tensorflow::errors::InvalidArgument(
        "spatial_scale must be finite and > 0, got ", spatial_scale);
  }
  if (pooled_size > 0 && output_size % pooled_size != 0) {
    return tensorflow::errors::InvalidArgument(
        "output_size (", output_size, ") must be divisible by pooled_size (",
        pooled_size, ")");
  }
  *grid = pooled_size > 0 ? pooled_size : output_size;
  tensorflow::DataType argmax_type;
  TF_RETURN_IF_ERROR(c->GetAttr("Targmax", &argmax_type));
  const int window = pooled_size > 0 ? output_size / pooled_size : 1;
  if (argmax_type == tensorflow::DT_UINT8 && window * window > 256) {
    return tensorflow::errors::InvalidArgument(
        "Targmax=uint8 holds window indices < 256 only, but the pooling window "
        "(output_size / pooled_size)^2 = ", window * window, "; use int32");
  }
  return tensorflow::OkStatus();
}

// features [B, H, W, C], boxes [B, K, 4] -> [B, K, n, n, C].
Status OutputShape(InferenceContext* c, ShapeHandle features, ShapeHandle boxes,
                   ShapeHandle* out) {
  int grid;
  TF_RETURN_IF_ERROR(GridSize(c, &grid));
  DimensionHandle batch, unused;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(features, 0), c->Dim(boxes, 0), &batch));
  TF_RETURN_IF_ERROR(c->WithValue(c->Dim(boxes, 2), 4, &unused));
  *out = c->MakeShape({batch, c->Dim(boxes, 1), grid, grid, c->Dim(features, 3)});
  return tensorflow::OkStatus();
}

}  // namespace

REGISTER_OP("MncTf>RoiWarp")
    .Input("features: T")
    .Input("boxes: Tboxes")
    .Output("output: T")
    .Output("argmax: Targmax")
    .Attr("T: {half, bfloat16, float, double}")
    .Attr("Tboxes: {float, double} = DT_FLOAT")
    .Attr("Targmax: {uint8, int32} = DT_UINT8")
    .Attr("output_size: int >= 1")
    .Attr("spatial_scale: float")
    .Attr("pooled_size: int >= 0 = 0")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle features, boxes, out;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &features));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 3, &boxes));
      TF_RETURN_IF_ERROR(OutputShape(c, features, boxes, &out));
      c->set_output(0, out);
      int pooled_size;
      TF_RETURN_IF_ERROR(c->GetAttr("pooled_size", &pooled_size));
      c->set_output(1, pooled_size > 0 ? out : c->MakeShape({0}));
      return tensorflow::OkStatus();
    })
    .Doc(R"doc(
Differentiable RoI warping (Multi-task Network Cascades, Eq. 6-9).

For box (y1, x1, y2, x2) in input-image pixels, sample i of S sits at
y_i = y1 * s - 0.5 + (i + 0.5) * (y2 - y1) * s / S (likewise x), and
output[b, k, i, j, c] = sum_{v,u} kappa(y_i - v) kappa(x_j - u) features[b, v, u, c]
with kappa(t) = max(0, 1 - |t|) over pixels inside the map.  With
pooled_size P > 0 the S x S grid is max pooled to P x P; argmax then holds,
per output element, the index di * w + dj of the chosen sample inside its
cell's w x w window, w = S / P (first maximum wins; else argmax is empty).
Targmax: uint8 (the default; needs w^2 <= 256, one byte per element) or int32.
Boxes with a non-finite coordinate give zeros.

features: [B, H, W, C].
boxes: [B, K, 4] (ymin, xmin, ymax, xmax) in input-image pixels; Tboxes is
  float (double with double features): 16-bit features keep float32 boxes.
output: [B, K, n, n, C], n = P if P > 0 else S.
argmax: [B, K, P, P, C] Targmax window indices in [0, w^2) when P > 0, else [0].
)doc");

REGISTER_OP("MncTf>RoiWarpGrad")
    .Input("grad: T")
    .Input("features: T")
    .Input("boxes: Tboxes")
    .Input("argmax: Targmax")
    .Output("grad_features: T")
    .Output("grad_boxes: Tboxes")
    .Attr("T: {half, bfloat16, float, double}")
    .Attr("Tboxes: {float, double} = DT_FLOAT")
    .Attr("Targmax: {uint8, int32} = DT_UINT8")
    .Attr("output_size: int >= 1")
    .Attr("spatial_scale: float")
    .Attr("pooled_size: int >= 0 = 0")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle features, boxes, grad, expected;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 4, &features));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 3, &boxes));
      TF_RETURN_IF_ERROR(OutputShape(c, features, boxes, &expected));
      TF_RETURN_IF_ERROR(c->Merge(c->input(0), expected, &grad));
      c->set_output(0, features);
      c->set_output(1, boxes);
      return tensorflow::OkStatus();
    })
    .Doc(R"doc(
Gradient of MncTf>RoiWarp w.r.t. features and the four box coordinates.
argmax must be the forward op's (window indices); an entry outside [0, w^2)
is an InvalidArgument error on CPU and is skipped on GPU, never an address.
)doc");

}  // namespace mnc_tf
