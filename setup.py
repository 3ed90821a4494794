"""Packaging for sagemaker-beam-scoring.

Dataflow stages this file with ``--setup_file``: workers install the same packages, so everything
the pipeline imports on a worker is in ``install_requires`` (confluent-kafka included: a Kafka job's
workers read and produce with it; aiohttp too: the direct client sends with it). The local endpoint's
server's event loop is the ``local`` extra: no worker runs it.
"""

from setuptools import find_packages, setup

# The tested range: the newest end runs the whole suite (`make test`, .venv); the oldest end runs the
# unit tests and the Flink tests (.venv-flink), whose job server and KafkaIO expansion-service jars
# Maven serves here only at 2.62.0. Makefile's BEAM_VERSION and FLINK_BEAM_VERSION are the two ends.
BEAM = "apache-beam>=2.62.0,<=2.77.0"

setup(
    name="sagemaker-beam-scoring",
    version="0.1.0",
    description="Apache Beam pipeline that scores records against Amazon SageMaker real-time endpoints",
    packages=find_packages(
        include=[
            "pipelines",
            "pipelines.*",
            "transforms",
            "transforms.*",
            "local_endpoint",
            "local_endpoint.*",
            "local_kafka",
        ]
    ),
    package_data={
        "pipelines": ["py.typed"],
        "transforms": ["py.typed"],
        "local_endpoint": ["py.typed"],
        "local_kafka": ["py.typed"],
    },
    python_requires=">=3.11",
    install_requires=[
        BEAM,
        "boto3>=1.34,<2",
        "pyarrow>=14",
        "tenacity>=8.2,<10",
        "orjson>=3.9,<4",  # shortest round-trip float formatting for CSV request bodies
        "pydantic>=2.6,<3",
        "pyyaml>=6",
        "confluent-kafka>=2.3,<3",
        "aiohttp>=3.10,<4",  # the direct InvokeEndpoint client's transport, on the worker's event loop
    ],
    extras_require={
        # The bundled SageMaker-Runtime-compatible endpoint's server (`smscore endpoint serve`, the embedded
        # default of `make run`). Workers never run it, so a worker environment installs none of this.
        "local": [
            'uvloop>=0.19; sys_platform != "win32"',  # its event loop where libuv serves it
        ],
        # Launching on Dataflow (and reading/writing gs://) needs Beam's GCP extra on the launcher.
        "dataflow": [BEAM.replace("apache-beam", "apache-beam[gcp]")],
        "s3": [BEAM.replace("apache-beam", "apache-beam[aws]")],
        "test": ["pytest>=8", "pytest-timeout>=2.3"],
        "dev": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "ruff>=0.6",
            "mypy>=1.10",
            "types-PyYAML",
            BEAM.replace("apache-beam", "apache-beam[gcp,aws]"),
            "moto[server]>=5,<6",  # an S3-compatible server for the s3:// tests (no AWS here)
            "gcp-storage-emulator>=2024",  # a GCS-compatible server for the gs:// tests (no GCP here)
        ],
    },
    entry_points={"console_scripts": ["smscore=pipelines.cli:entry"]},
)
