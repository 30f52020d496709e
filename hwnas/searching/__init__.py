"""The search loop and its configuration."""
