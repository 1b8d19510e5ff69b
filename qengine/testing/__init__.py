"""Public helpers for testing qengine and its plugins: test steps, and more to come."""
