"""The command line every entrypoint shares: options, parsing and dispatch. The top layer: may import every other package."""
from utils.cli.main import run_task  # noqa: F401
