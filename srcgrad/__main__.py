"""`python -m srcgrad ...`: the command line (see srcgrad/cli.py)."""
from .cli import console_main

if __name__ == "__main__":
    console_main()
