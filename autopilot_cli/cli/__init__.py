"""The command line: the Typer app, where config, database and secrets come from, rendering (untrusted
text escaped), the review screen and one module per command.
"""
