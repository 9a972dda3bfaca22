"""Load, soak and fault injection against the local server: ``python -m loadtest``."""
