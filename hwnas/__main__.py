"""`python -m hwnas ...` is the same as the `hwnas` console script."""

from hwnas.cli import main

main()
