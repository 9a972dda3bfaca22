"""`make bench` compares like with like: the order item it fakes is one the service writes, and
the raw baseline answers the same representation of it as the service."""

from __future__ import annotations

import sys
from pathlib import Path

from lambda_app.api import representations
from lambda_app.repository import codec

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path[:0] = [str(BENCH), str(BENCH / "baselines")]

import fake_dynamodb  # noqa: E402
import raw_handler  # noqa: E402


def test_the_faked_order_item_is_what_the_service_writes_for_it() -> None:
    item = fake_dynamodb._order(fake_dynamodb.ORDER_ID)
    assert codec.order_to_item(codec.item_to_order(item)) == item


def test_the_raw_baseline_answers_the_services_representation() -> None:
    item = fake_dynamodb._order(fake_dynamodb.ORDER_ID)
    ours = representations.order(codec.item_to_order(item))
    # The service always sends the optional address line (null here); the raw handler omits it.
    assert ours["shipping_address"].pop("line2") is None
    assert raw_handler._order_json(item) == ours
