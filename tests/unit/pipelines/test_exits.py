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


def test_beams_import_warning_about_a_missing_bigquery_client_is_not_shown(caplog):
    import logging

    from pipelines.exits import configure_logging

    with caplog.at_level(logging.WARNING):
        configure_logging()  # filters every root handler, the test's capture included
        logging.warning("apitools not found, and bigquery client libraries are not available despite the import")
        logging.warning("a warning of our own")
    assert [r.getMessage() for r in caplog.records] == ["a warning of our own"]
