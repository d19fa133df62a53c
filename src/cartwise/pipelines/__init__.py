"""Batch work over a store: load, fit, score and save what the service and pages read."""
