"""The state stores' shared contract, and what each store adds to it."""
