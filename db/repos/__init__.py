"""Repositories: parameterized SQL only, one module per resource, functions take a connection."""
