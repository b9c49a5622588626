"""Deployment: everything Chalice does not generate, merged into its SAM template."""
