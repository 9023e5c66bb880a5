"""`python -m services [NAME ...]`: the same as `tierline up` / `tierline serve NAME`."""

from libs.cli import main

if __name__ == "__main__":
    main()
