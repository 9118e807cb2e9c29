"""`python -m rayground ...` is the `rayground` command line."""

from .cli import main

if __name__ == "__main__":
    main()
