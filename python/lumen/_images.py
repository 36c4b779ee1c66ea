"""Turning the image arguments Python callers hand over into what the extension reads: a path
(``str``), encoded bytes (``bytes``), or a C-contiguous ``uint8`` array ``HxW``/``HxWxC``.

Accepted: ``str`` or :class:`os.PathLike` paths, ``bytes``/``bytearray``/``memoryview`` holding
a JPEG or PNG file, NumPy ``uint8`` arrays ``HxW`` (gray), ``HxWx1``, ``HxWx2`` (gray + alpha),
``HxWx3`` (RGB) or ``HxWx4`` (RGBA), and PIL images (when Pillow is installed). Arrays and PIL
images go through the same conversion as decoded files: alpha dropped (the model's ``alpha``
is ``"drop"``, PIL's ``convert("RGB")``, the reference pipeline's) or composited onto white
(``"white"``), then PIL's bicubic resize and SigLIP's normalisation.
"""

import os
import sys

from ._errors import InvalidInputError

try:
    import numpy as _np
except ImportError:  # pragma: no cover - numpy is a dependency; kept importable without it
    _np = None

# PIL modes whose pixels convert() to RGB(A) as the reference does; the rest go through
# convert("RGB") in PIL itself, which is exactly the reference pipeline's step.
_PIL_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def _pil_array(image):
    mode = image.mode
    if mode in ("RGB", "L", "RGBA", "LA"):
        converted = image
    elif mode in _PIL_ALPHA_MODES or (mode == "P" and "transparency" in image.info):
        converted = image.convert("RGBA")
    else:
        converted = image.convert("RGB")
    return _np.ascontiguousarray(_np.asarray(converted, dtype=_np.uint8))


def _is_pil_image(image):
    pil = sys.modules.get("PIL.Image")  # never import Pillow just to check
    return pil is not None and isinstance(image, pil.Image)


def image_arg(image):
    """One image argument as the extension takes it (see the module docstring)."""
    if isinstance(image, str):
        return image
    if isinstance(image, os.PathLike):
        return os.fsdecode(os.fspath(image))
    if isinstance(image, bytes):
        return image
    if isinstance(image, (bytearray, memoryview)):
        return bytes(image)
    if _np is not None and isinstance(image, _np.ndarray):
        if image.dtype != _np.uint8:
            raise InvalidInputError(
                f"image array: dtype must be uint8 (0..255 per channel), not {image.dtype}")
        if image.ndim not in (2, 3) or (image.ndim == 3 and not 1 <= image.shape[2] <= 4):
            raise InvalidInputError(
                f"image array: shape must be HxW or HxWxC with C in 1..4, not {tuple(image.shape)}")
        return _np.ascontiguousarray(image)
    if _is_pil_image(image):
        return _pil_array(image)
    raise InvalidInputError(
        "image: expected a path, bytes, a NumPy uint8 array (HxWx3 or HxWx4) or a PIL image, "
        f"not {type(image).__name__}")


def image_list(images):
    """A list of image arguments from one image, an iterable of them, an ``NxHxWxC`` array,
    or None (no image)."""
    if images is None:
        return []
    if _np is not None and isinstance(images, _np.ndarray) and images.ndim == 4:
        return [image_arg(image) for image in images]
    single = (str, os.PathLike, bytes, bytearray, memoryview)
    if isinstance(images, single) or _is_pil_image(images) or (
            _np is not None and isinstance(images, _np.ndarray)):
        return [image_arg(images)]
    try:
        items = list(images)
    except TypeError:
        return [image_arg(images)]  # raises, naming the type
    return [image_arg(image) for image in items]
