"""A real `cartwise serve` on 127.0.0.1, shared by the API tests of this session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from service_support import Running, start


@pytest.fixture(scope="session")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with start(tmp_path_factory.mktemp("service")) as run:
        yield run
