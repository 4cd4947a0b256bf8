"""Conformance suites for code that extends tunelab: a storage backend.

Each suite is a pytest class; subclass it in a test module, give it the object to check
through one fixture, and pytest runs every check of the contract on it (the docstring of
:mod:`tunelab.testing.storage` shows how). tunelab runs the same suite on its own storages.
This package needs pytest, and ``import tunelab`` does not load it.
"""

import pytest

# Failed checks then show the values compared, as assertions in the user's own tests do.
pytest.register_assert_rewrite("tunelab.testing.storage")

from tunelab.testing.storage import StorageContract  # noqa: E402

__all__ = ["StorageContract"]
