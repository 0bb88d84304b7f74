"""Properties of the schema files that the server's fast paths rely on."""

from __future__ import annotations

import pytest

from pytest_vbs import schemas


@pytest.mark.parametrize("name", schemas.schema_names("queries"))
def test_no_query_parameter_is_mandatory(name: str) -> None:
    """validation.query skips validation of an empty query string: that is only right while no query
    schema requires a parameter."""
    document = schemas.schema("queries", name)
    assert document is not None
    assert "required" not in document
    assert schemas.violations("queries", name, {}) == []
