"""``TaggedArray``: the base of convnp's ndarray subclasses that carry something with their data."""

from __future__ import annotations

import numpy as np


class TaggedArray(np.ndarray):
    """An ndarray subclass whose tag travels with the data, not with its results.

    Views, copies, casts, reshapes and slices keep the class (subclasses copy their tag in
    ``__array_finalize__``), so a tag survives ``Tensor.detach()``, ``clone()`` and ``to()``;
    the results of arithmetic and reductions are new data and come back as plain ndarrays.
    """

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        arr = arr.view(np.ndarray)
        return arr[()] if return_scalar else arr
