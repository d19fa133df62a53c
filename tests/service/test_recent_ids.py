"""The collector's recent ids: exact, bounded, and nothing large for a rehash or the garbage collector to walk."""

from __future__ import annotations

import gc

from cartwise.service.recent_ids import RecentIds


def test_recent_ids_are_known_exactly_and_the_oldest_go_first() -> None:
    recent = RecentIds(1000, generation=100)
    recent.add(f"a{i}" for i in range(1000))
    assert "a0" in recent and "a999" in recent and "b0" not in recent
    recent.add(f"b{i}" for i in range(250))
    # 1,250 ids in generations of 100: the oldest two (a0-a199) are gone whole, the last 1,000 kept.
    assert "a199" not in recent and "a200" in recent and "a250" in recent and "b249" in recent
    assert 1000 <= len(recent) <= 1100


def test_no_generation_grows_beyond_its_size_and_none_is_walked_by_the_garbage_collector() -> None:
    recent = RecentIds(10_000, generation=1000)
    for start in range(0, 50_000, 777):  # batches that straddle generations, with repeats
        recent.add(f"e{i}" for i in range(start, start + 900))
        assert max(map(len, recent._dicts)) <= 1000
        assert not any(map(gc.is_tracked, recent._dicts))
    assert len(recent) <= 11_000


def test_replace_forgets_everything_else() -> None:
    recent = RecentIds(100, generation=10)
    recent.add(["deleted-1", "kept-1"])
    recent.replace(["kept-1", "since-1"])
    assert "deleted-1" not in recent and "kept-1" in recent and "since-1" in recent
