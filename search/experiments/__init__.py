"""Experiments: variant assignment, the event log (impressions, clicks, conversions)."""
