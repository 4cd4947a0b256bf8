from __future__ import annotations

import pytest

from tunelab.torch.data import DataSplit, load_data


@pytest.fixture(scope="module")
def digits() -> DataSplit:
    return load_data("digits")
