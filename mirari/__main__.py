"""`python -m mirari …`: the same as the `mirari` command."""

import sys

from mirari.main import main

sys.exit(main())
