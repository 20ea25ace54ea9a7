"""srcnn: image super-resolution with SRCNN (Dong, Loy, He, Tang, TPAMI 2016).

    >>> import numpy as np, srcnn
    >>> out = srcnn.upscale(np.zeros((32, 32, 3), np.uint8), scale=3)   # doctest: +SKIP

The shared core: MATLAB-exact colour (``srcnn.colour``) and bicubic (``srcnn.resize``),
borders and tiling (``srcnn.border``), the ONNX runtime (``srcnn.runtime``), the pipeline
(``srcnn.pipeline``), metrics and the paper's protocol. Nothing here imports torch.
"""
__version__ = "0.1.0"

__all__ = ["upscale", "upscale_tiles", "upscale_file", "__version__"]


def upscale(image, scale=3, **kwargs):
    """See :func:`srcnn.pipeline.upscale`."""
    from .pipeline import upscale as _upscale
    return _upscale(image, scale, **kwargs)


def upscale_tiles(image, scale=3, **kwargs):
    """See :func:`srcnn.pipeline.upscale_tiles`: the result as (box, pixels) strips, top to bottom."""
    from .pipeline import upscale_tiles as _upscale_tiles
    return _upscale_tiles(image, scale, **kwargs)


def upscale_file(src, dst, **kwargs):
    """See :func:`srcnn.imageio.upscale_file`."""
    from .imageio import upscale_file as _upscale_file
    return _upscale_file(src, dst, **kwargs)
