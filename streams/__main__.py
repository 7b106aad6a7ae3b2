"""``python -m streams`` runs the touchpoint CLI."""

from streams.cli import main

main()
