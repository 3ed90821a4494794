"""``python -m local_endpoint serve [--config FILE] [--host H] [--port P]``."""

import argparse
import sys

from local_endpoint.cli import add_serve_arguments, run_serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_endpoint")
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve_arguments(sub.add_parser("serve", help="serve the SageMaker Runtime API locally"))
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
