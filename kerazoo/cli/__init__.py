"""The `kerazoo` command. Subcommands load lazily (see `main.COMMANDS`)."""
