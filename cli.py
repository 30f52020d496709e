"""`python cli.py ...` is the same as the `hwnas` console script."""

from hwnas.cli import main

if __name__ == "__main__":
    main()
