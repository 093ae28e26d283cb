"""`python -m creditshare.cli` runs the `creditshare` command."""

from creditshare.cli import main

main()
