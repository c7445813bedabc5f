"""`python -m kerazoo` is the `kerazoo` command."""

from kerazoo.cli.main import main

if __name__ == "__main__":
    main()
