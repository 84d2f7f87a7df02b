"""The EventLog seam: impressions, clicks and conversions, and its tables."""
