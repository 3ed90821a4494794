"""A local, SageMaker-Runtime-compatible endpoint: the embedded default and the test peer."""

from local_endpoint.config import ServerConfig, default_config, load_config
from local_endpoint.server import LocalEndpoint, running

__all__ = ["LocalEndpoint", "ServerConfig", "default_config", "load_config", "running"]
