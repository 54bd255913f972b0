"""One module per CLI sub-command; each exposes ``add_parser(subparsers)``."""
