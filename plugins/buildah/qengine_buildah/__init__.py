"""qengine-buildah: daemonless image builds."""
