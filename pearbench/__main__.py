"""``python -m pearbench`` runs the command line (and ``accelerate launch -m pearbench`` can start it)."""

from pearbench.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
