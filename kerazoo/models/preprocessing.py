"""Input scaling inside the model, so a saved model takes plain 0-255 pixels.

Modes name what a family's pretrained weights expect: `unit` [0, 1],
`symmetric` [-1, 1] (Inception-style "tf" mode), `imagenet` (ImageNet mean
and standard deviation, the "torch" mode), `caffe` (ImageNet means
subtracted, 0-255 range), `raw` (the backbone scales itself).
Computed in float32: 0-255 values lose precision in bfloat16.
"""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# keras.applications' "caffe" means, in RGB order (its BGR order reversed).
CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)


def scaling_layer(mode):
    """A Keras layer for `mode`, or None for `raw`."""
    import keras

    if mode == "raw":
        return None
    if mode == "unit":
        return keras.layers.Rescaling(1.0 / 255.0, dtype="float32", name="scale_unit")
    if mode == "symmetric":
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, dtype="float32", name="scale_symmetric")
    if mode == "caffe":
        # ImageNet's per-channel means subtracted, no scaling. Caffe-trained
        # weights also expect BGR; the builder reverses the first
        # convolution's input channels instead (kerazoo.models.pretrained).
        return keras.layers.Normalization(mean=list(CAFFE_MEAN_RGB), variance=[1.0, 1.0, 1.0], dtype="float32", name="scale_caffe")
    if mode == "imagenet":
        mean = [255.0 * m for m in IMAGENET_MEAN]
        variance = [(255.0 * s) ** 2 for s in IMAGENET_STD]
        return keras.layers.Normalization(mean=mean, variance=variance, dtype="float32", name="scale_imagenet")
    raise ValueError(f"unknown preprocessing mode {mode!r}")  # the schema checks this
