"""Packaging for sagemaker-beam-scoring.

Dataflow stages this file with ``--setup_file``: workers install the same
packages, so everything the pipeline imports at run time is listed here.
"""

from setuptools import find_packages, setup

BEAM_VERSION = "2.62.0"  # = the Flink job-server, expansion-service jars and Prism (java/, Makefile)

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
        f"apache-beam=={BEAM_VERSION}",
        "boto3>=1.34,<2",
        "pyarrow>=14",
        "tenacity>=8.2,<10",
        "orjson>=3.9,<4",  # shortest round-trip float formatting for CSV request bodies
        "pydantic>=2.6,<3",
        "pyyaml>=6",
    ],
    extras_require={
        # The bundled SageMaker-Runtime-compatible endpoint's server (`smscore endpoint serve`, the embedded
        # default of `make run`). Workers never run it, so a worker environment installs none of this.
        "local": [
            "aiohttp>=3.9,<4",
            'uvloop>=0.19; sys_platform != "win32"',  # its event loop where libuv serves it
        ],
        "kafka": ["confluent-kafka>=2.3,<3"],
        # Launching on Dataflow (and reading/writing gs://) needs Beam's GCP extra on the launcher.
        "dataflow": [f"apache-beam[gcp]=={BEAM_VERSION}"],
        "s3": [f"apache-beam[aws]=={BEAM_VERSION}"],
        "dev": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "ruff>=0.6",
            "mypy>=1.10",
            "types-PyYAML",
            "confluent-kafka>=2.3,<3",
            f"apache-beam[gcp]=={BEAM_VERSION}",
            f"apache-beam[aws]=={BEAM_VERSION}",
            "moto[server]>=5,<6",  # an S3-compatible server for the s3:// tests (no AWS here)
            "gcp-storage-emulator>=2024",  # a GCS-compatible server for the gs:// tests (no GCP here)
            "aiohttp>=3.9,<4",
            'uvloop>=0.19; sys_platform != "win32"',
        ],
    },
    entry_points={"console_scripts": ["smscore=pipelines.cli:main"]},
)
