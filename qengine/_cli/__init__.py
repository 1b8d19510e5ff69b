"""The ``qengine`` command line."""
