"""Command-line entry points: each module's ``main(argv=None)`` parses the flags and calls the library."""
