"""The worker's collector runs less often than CPython's default, and never more often than the user set."""

import gc

import pytest

from transforms.core.collector import GEN0_THRESHOLD, collect_less_often, loading_modules


@pytest.fixture
def threshold():  # type: ignore[no-untyped-def]
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ((700, 10, 10), (GEN0_THRESHOLD, 10, 10)),
        ((50_000, 5, 5), (50_000, 5, 5)),  # the user's higher threshold stays
        ((0, 10, 10), (0, 10, 10)),  # collection turned off stays off
    ],
)
def test_the_youngest_generation_is_collected_less_often(threshold, before, after):
    gc.set_threshold(*before)
    collect_less_often()
    assert gc.get_threshold() == after


def test_modules_load_without_collections_and_stay_out_of_later_ones(threshold):
    gc.set_threshold(700, 10, 10)
    with loading_modules():
        assert not gc.isenabled()
        made = [[i] for i in range(5_000)]  # past 700: a collection would have reset the count
        assert gc.get_count()[0] >= 5_000
    try:
        assert gc.isenabled() and gc.get_threshold()[0] == GEN0_THRESHOLD
        assert gc.get_freeze_count() >= len(made)
    finally:
        gc.unfreeze()
