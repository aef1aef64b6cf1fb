"""`python -m faces.cli`: the `campaign` command."""

from faces.cli import main

main()
