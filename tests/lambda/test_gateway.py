"""The Lambda adapter's promises (`gateway_checks.py`), on the development interpreter. The
same checks run on the Lambda asset's interpreter in `tests/infra/test_infra_asset.py`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .gateway_checks import CHECKS


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__.removeprefix("check_"))
def test_gateway(check: Callable[[], None]) -> None:
    check()
