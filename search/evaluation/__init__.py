"""Offline relevance evaluation: judged queries in, standard IR metrics out, per language.

``judgments`` reads qrels and queries, ``metrics`` holds the pure metric functions, ``trec``
reads and writes TREC run files, ``run`` sends the queries through the search pipeline,
``compare`` pairs two configurations query by query, and ``report`` formats the results.
"""
