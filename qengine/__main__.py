"""``python -m qengine``: the same as the ``qengine`` command."""

try:
    from qengine._cli.main import entry
except KeyboardInterrupt:  # Ctrl-C while the command line is still being imported
    import sys

    print("error: interrupted", file=sys.stderr)
    sys.exit(3)

entry()
