"""Configuration, state and plumbing of the decision service."""
