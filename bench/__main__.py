"""``python -m bench``: see ``bench.run``."""

import sys

from bench.run import main

main(sys.argv[1:])
