"""The id of the local key used when none is named.

Kept apart from :mod:`qengine.secrets.local_keys` so that the command line can show it in its
help without importing the secrets core (and cryptography) for every command.
"""

DEFAULT_KEY_ID = "default"
