"""``convnp.vision.io``: read and write image files as uint8 tensors ``(C, H, W)``."""

from convnp.vision.io import image
from convnp.vision.io.image import (
    ImageReadMode,
    decode_image,
    read_file,
    read_image,
    write_jpeg,
    write_png,
)
