"""The in-memory replay store looks at its oldest entry only when one may have expired; its
answers and its entries, in order, are those of the store that looked on every call."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hemproto.replay import MemoryReplayStore


class LookEveryTime:
    """The store as it was: the expired front dropped on every call (the model)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.expiry: dict[bytes, float] = {}

    def seen_before(self, key: bytes, expires_at: float, now: float) -> bool:
        expiry = self.expiry
        while expiry:
            oldest = next(iter(expiry))
            if expiry[oldest] > now:
                break
            del expiry[oldest]
        known = expiry.pop(key, None)
        if known is not None and known > now:
            expiry[key] = known
            return True
        expiry[key] = expires_at
        while len(expiry) > self.max_entries:
            del expiry[next(iter(expiry))]
        return False


calls = st.lists(
    st.tuples(
        st.integers(0, 7),  # which key: few, so that keys come back
        st.floats(-5, 30, allow_nan=False),  # expires_at, in any order
        st.floats(0, 3, allow_nan=False),  # how far the clock moves first
    ),
    max_size=60,
)


@settings(max_examples=400, deadline=None)
@given(calls=calls, max_entries=st.integers(1, 6), backwards=st.booleans())
def test_the_store_answers_and_keeps_what_the_model_does(
    calls: list[tuple[int, float, float]], max_entries: int, backwards: bool
) -> None:
    now = [0.0]
    store = MemoryReplayStore(max_entries=max_entries, clock=lambda: now[0])
    model = LookEveryTime(max_entries)
    for number, expires_at, step in calls:
        # A clock that goes back now and then too: the store must not depend on it.
        now[0] += -step if backwards and number == 0 else step
        key = bytes([number]) * 96
        assert store.seen_before(key, expires_at) == model.seen_before(key, expires_at, now[0])
        assert list(store._expiry.items()) == list(model.expiry.items())
        assert len(store) == len(model.expiry)


def test_a_quiet_store_empties_once_everything_expired() -> None:
    now = [0.0]
    store = MemoryReplayStore(clock=lambda: now[0])
    for number in range(50):
        assert store.seen_before(bytes([number]), 10.0 + number) is False
    now[0] = 100.0
    assert store.seen_before(b"late", 200.0) is False
    assert len(store) == 1


def test_a_replayed_key_keeps_its_deadline_and_moves_to_the_back() -> None:
    now = [0.0]
    store = MemoryReplayStore(clock=lambda: now[0])
    assert store.seen_before(b"a", 5.0) is False
    assert store.seen_before(b"b", 50.0) is False
    assert store.seen_before(b"a", 99.0) is True  # seen: its own deadline stays
    assert list(store._expiry.items()) == [(b"b", 50.0), (b"a", 5.0)]
    now[0] = 6.0
    # "b" is at the front and has not expired; "a" has, and answers as new again.
    assert store.seen_before(b"a", 60.0) is False
    assert list(store._expiry.items()) == [(b"b", 50.0), (b"a", 60.0)]
