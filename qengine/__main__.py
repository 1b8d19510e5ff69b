"""``python -m qengine``: the same as the ``qengine`` command."""

from qengine._cli.main import entry

entry()
