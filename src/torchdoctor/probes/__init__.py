"""Probes: the only code that touches the machine. Each returns data, never raises for a missing part."""
