"""The command line: a thin layer over :mod:`app.core`, with no Qt."""
