"""BioImage.IO model packages (rdf.yaml, format 0.5): export SegLab models, import and run others.

export.py writes a package (ONNX + TorchScript weights, the state dict for smp architectures, SegLab's own
model file as an attachment, test tensors, README, cover); package.py reads one and refuses what SegLab
cannot run; importing.py runs it on the tiled engine; preprocessing.py maps normalisation both ways.

Supported on import: 2D models with one input and one output (axes batch, channel, y, x in any order);
onnx and torchscript weights inside the package (sha256 checked); preprocessing ensure_dtype (to float),
zero_mean_unit_variance, scale_range, scale_linear, fixed_zero_mean_unit_variance (over y and x, per
channel or joint) and a final clip; postprocessing sigmoid, softmax, binarize (a probability threshold),
clip, ensure_dtype; fixed or parameterized (min + k * step) input sizes; output halos (tiles overlap by
at least both halos).
Refused with the reason: 3D, time or index axes; several inputs or outputs; outputs not the input's size;
instance outputs (stardist, cellpose, integer label images); pytorch_state_dict (Python code from the
package), Keras and TensorFlow weights; weights that are only URLs (nothing is downloaded); format 0.4;
per-row or per-batch normalisation, scale_range against another tensor, custom processing steps.
"""
