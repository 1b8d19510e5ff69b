"""qengine-docker: image builds through a Docker Engine API."""
