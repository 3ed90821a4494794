"""The invoke DoFn's instances in one worker process share one event loop, client, limiter, breaker and budget."""

import pickle

import pyarrow as pa

from transforms.core.rows import dead_letter_schema, prediction_schema
from transforms.core.settings import EndpointSettings, InvokeSettings
from transforms.invoke.client import ThreadedClient
from transforms.invoke.direct_client import DirectInvokeClient
from transforms.invoke.transform import InvokeEndpointFn, InvokeSpec


def spec(**invoke) -> InvokeSpec:
    none = pa.schema([])
    return InvokeSpec(
        endpoint=EndpointSettings(name="e", endpoint_url="http://127.0.0.1:1"),
        settings=InvokeSettings(feature_columns=["x"], **invoke),
        key_columns=["k"],
        prediction_schema=prediction_schema(none, "float64"),
        dead_letter_schema=dead_letter_schema(none),
        requests_per_second=50.0,
    )


def instances(fn: InvokeEndpointFn, count: int) -> list[InvokeEndpointFn]:
    """As a worker gets them: each a copy unpickled from the pipeline, then set up."""
    copies = [pickle.loads(pickle.dumps(fn)) for _ in range(count)]
    for copy in copies:
        copy.setup()
    return copies


def test_every_instance_in_a_process_shares_one_set_of_worker_resources():
    first, second, third = instances(InvokeEndpointFn(spec(concurrency=7)), 3)
    shared = first._resources
    assert second._resources is shared and third._resources is shared and shared.loop is not None
    assert isinstance(shared.client, DirectInvokeClient) and shared.limiter.maximum == 7 and shared.rate is not None
    invokers = [fn._scorer.invoker for fn in (first, second, third)]
    assert all(i.limiter is shared.limiter and i.breaker is shared.breaker and i.rate is shared.rate for i in invokers)


def test_another_transform_of_the_pipeline_gets_its_own():
    (a,) = instances(InvokeEndpointFn(spec()), 1)
    (b,) = instances(InvokeEndpointFn(spec(client="boto3")), 1)
    assert a._resources is not b._resources and isinstance(b._resources.client, ThreadedClient)
