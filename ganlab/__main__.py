"""``python -m ganlab`` runs the same CLI as the ``ganlab`` command."""
from ganlab.cli import main

main()
