"""`python -m services` runs the whole stack (`tierline up`); `python -m services NAME` runs one service."""

import sys

from libs.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    main(["serve", *args] if len(args) == 1 and not args[0].startswith("-") else ["up", *args])
