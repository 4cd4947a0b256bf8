"""Conformance suites for code that extends tunelab: a storage backend or a sampler.

Each suite is a pytest class; subclass it in a test module, give it the object to check
through one fixture, and pytest runs every check of the contract on it (the docstrings of
:mod:`tunelab.testing.storage` and :mod:`tunelab.testing.samplers` show how). tunelab runs
the same suites on its own storages and samplers. This package needs pytest, and ``import
tunelab`` does not load it.
"""

import pytest

# Failed checks then show the values compared, as assertions in the user's own tests do.
pytest.register_assert_rewrite(
    "tunelab.testing.objectives", "tunelab.testing.samplers", "tunelab.testing.storage"
)

from tunelab.testing.samplers import SamplerContract  # noqa: E402
from tunelab.testing.storage import StorageContract  # noqa: E402

__all__ = ["SamplerContract", "StorageContract"]
