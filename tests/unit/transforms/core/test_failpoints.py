"""Failpoints fail only where and as often as the environment asks."""

import pytest

from transforms.core import failpoints
from transforms.core.failpoints import InjectedFailure, failpoint


def test_a_failpoint_raises_its_count_of_times_then_passes(monkeypatch):
    monkeypatch.setattr(failpoints, "_passes", {})
    monkeypatch.setenv("SMSCORE_FAILPOINTS", "a:2,b:0")
    for _ in range(2):
        with pytest.raises(InjectedFailure, match="failpoint a"):
            failpoint("a")
    failpoint("a")
    failpoint("b")
    failpoint("c")


def test_unset_nothing_fails(monkeypatch):
    monkeypatch.delenv("SMSCORE_FAILPOINTS", raising=False)
    failpoint("a")
