"""Pulumi component resources, one per file (type tokens mwaa:<module>:<Type>)."""
