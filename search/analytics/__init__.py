"""Search analytics over the event log: what shoppers search for, what finds nothing, what
nobody clicks, per locale and time range; and the log exported in the UBI schema.

Queries are grouped in SQL (SQLite and PostgreSQL alike) and streamed; no table is loaded into
Python. A query is shown only when enough distinct users sent it (k-anonymity, see
``search.analytics.queries``).
"""
