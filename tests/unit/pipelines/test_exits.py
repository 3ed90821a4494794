"""Failures told in one line."""

from pipelines.exits import one_line


def test_a_runner_failure_carrying_a_worker_traceback_is_told_in_its_last_exception_line():
    worker = (
        "Pipeline job-001 failed in state FAILED: bundle inst002 failed:Traceback (most recent call last):\n"
        '  File "x.py", line 1, in f\nbotocore.errorfactory.ValidationError: first\n\n'
        "During handling of the above exception, another exception occurred:\n\n"
        'Traceback (most recent call last):\n  File "y.py", line 2, in g\n'
        "transforms.invoke.outage.EndpointOutage: the endpoint failed 16 requests [while running 'Invoke']\n"
    )
    assert one_line(RuntimeError(worker)) == (
        "transforms.invoke.outage.EndpointOutage: the endpoint failed 16 requests [while running 'Invoke']"
    )
    assert one_line(ValueError("bad value")) == "ValueError: bad value"
