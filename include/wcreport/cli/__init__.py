"""The `wcreport` command line."""
from wcreport.cli.main import main

__all__ = ["main"]
