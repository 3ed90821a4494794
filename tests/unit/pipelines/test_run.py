from collections.abc import Iterator

import pytest
from apache_beam.runners.worker import statesampler
from apache_beam.utils.counters import CounterFactory

from pipelines.run import STATE_SAMPLING_PERIOD_MS, short_state_sampling


@pytest.fixture
def beams_defaults() -> Iterator[None]:
    init = statesampler.StateSampler.__init__
    saved = init.__defaults__
    yield
    init.__defaults__ = saved


@pytest.mark.usefixtures("beams_defaults")
def test_a_local_workers_step_timing_thread_sleeps_briefly() -> None:
    # Beam's own period, which every bundle's end waits out
    assert statesampler.StateSampler("s", CounterFactory()).sampling_period_ms == 200
    short_state_sampling()
    assert statesampler.StateSampler("s", CounterFactory()).sampling_period_ms == STATE_SAMPLING_PERIOD_MS
    short_state_sampling()  # twice is once
    assert statesampler.StateSampler("s", CounterFactory()).sampling_period_ms == STATE_SAMPLING_PERIOD_MS


@pytest.mark.usefixtures("beams_defaults")
def test_a_signature_it_does_not_know_is_left_alone() -> None:
    statesampler.StateSampler.__init__.__defaults__ = (50,)
    short_state_sampling()
    assert statesampler.StateSampler("s", CounterFactory()).sampling_period_ms == 50
