"""Allow `python -m hpctl`."""

from hpctl.cli import main

main()
