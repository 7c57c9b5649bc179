"""The store is the first place a hit is kept: it refuses one no receiver could take."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from test_store import make_hit

from groundctl.store import Store, StoreError


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "../../x"}, "the id must be"),
        ({"id": "/tmp/pwn"}, "the id must be"),
        ({"id": ""}, "the id must be"),
        ({"lat": math.nan}, "lat nan"),
        ({"lon": 181.0}, "lon 181.0"),
        ({"confidence": math.inf}, "confidence inf"),
        ({"uncertainty_m": -1.0}, "uncertainty_m -1.0"),
        ({"temp_c": math.nan}, "temp_c nan"),
        ({"target_class": ""}, "the class must be"),
        ({"vehicle_ids": (999,)}, "vehicle ids"),
    ],
)
def test_a_hit_no_receiver_could_take_is_refused(tmp_path, change, message):
    with Store.open(tmp_path / "op.sqlite", operation="ridge") as store:
        with pytest.raises(StoreError, match=message):
            store.upsert_hit(replace(make_hit("h1"), **change), sinks=["mqtt"])
        assert store.hits() == [] and store.outbox() == []
        assert store.upsert_hit(make_hit("h1"), sinks=["mqtt"]).created  # the real one goes in
