"""qengine-oci: OCI Distribution registries."""
