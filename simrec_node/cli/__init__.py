"""The ``simrec`` command: argument parsing and dispatch only."""
