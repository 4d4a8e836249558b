"""Frozen entry point: the bundled `mirari` executable runs exactly what the `mirari` console script runs."""

import sys

from mirari.main import main

if __name__ == "__main__":
    sys.exit(main())
