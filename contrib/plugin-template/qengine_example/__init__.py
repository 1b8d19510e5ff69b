"""A template qengine plugin."""
