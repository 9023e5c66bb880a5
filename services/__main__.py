"""`python -m services ...` is the `tierline` command (`python -m services serve NAME` runs one service)."""

from services.registry import main

if __name__ == "__main__":
    main()
