"""One module per `accelsim` subcommand, each with ``add_parser(parser)`` and ``handle(args)``."""
