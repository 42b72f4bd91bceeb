"""torch.utils.data's ChainDataset, StackDataset, default_convert and get_worker_info against
torch's."""

from __future__ import annotations

import numpy as np
import pytest

import convnp
from convnp.utils import data as D

torch = pytest.importorskip("torch")
TD = torch.utils.data


class _Stream(D.IterableDataset):
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def __iter__(self):
        return iter(range(self.lo, self.hi))

    def __len__(self):
        return self.hi - self.lo


class _TStream(TD.IterableDataset):
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def __iter__(self):
        return iter(range(self.lo, self.hi))

    def __len__(self):
        return self.hi - self.lo


def test_chain_dataset_matches_torch():
    ours = D.ChainDataset([_Stream(0, 3), _Stream(10, 12)])
    theirs = TD.ChainDataset([_TStream(0, 3), _TStream(10, 12)])
    assert list(ours) == list(theirs) and len(ours) == len(theirs)
    with pytest.raises(TypeError, match="IterableDataset"):
        list(D.ChainDataset([D.TensorDataset(convnp.zeros(2))]))


def test_stack_dataset_matches_torch():
    a, b = np.arange(4), np.arange(4) * 10
    ta, tb = torch.tensor(a), torch.tensor(b)
    ours = D.StackDataset(D.TensorDataset(a), D.TensorDataset(b))
    theirs = TD.StackDataset(TD.TensorDataset(ta), TD.TensorDataset(tb))
    assert len(ours) == len(theirs) == 4
    assert [int(x[0]) for x in ours[2]] == [int(x[0]) for x in theirs[2]]
    named = D.StackDataset(x=D.TensorDataset(a), y=D.TensorDataset(b))
    assert sorted(named[1]) == sorted(TD.StackDataset(x=TD.TensorDataset(ta),
                                                      y=TD.TensorDataset(tb))[1])
    with pytest.raises(ValueError, match="size mismatch"):
        D.StackDataset(D.TensorDataset(a), D.TensorDataset(b[:3]))
    with pytest.raises(ValueError, match="not both"):
        D.StackDataset(D.TensorDataset(a), y=D.TensorDataset(b))


def test_default_convert_matches_torch():
    sample = {"x": np.ones((2, 3), np.float32), "y": [np.int64(3), "name"], "z": (1.5,)}
    ours, theirs = D.default_convert(sample), TD.default_convert(sample)
    assert isinstance(ours["x"], convnp.Tensor) and isinstance(theirs["x"], torch.Tensor)
    np.testing.assert_array_equal(ours["x"].numpy(), theirs["x"].numpy())
    assert int(ours["y"][0]) == int(theirs["y"][0]) and ours["y"][1] == theirs["y"][1] == "name"
    assert ours["z"] == theirs["z"] == [1.5]


def test_get_worker_info_in_the_main_process():
    assert D.get_worker_info() is None and TD.get_worker_info() is None
