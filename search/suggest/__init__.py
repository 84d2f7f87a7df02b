"""Query suggestions (autocomplete): completions of a prefix from the popular queries that had
results (k-anonymous) and from the catalog's own words, per language, rebuilt in the background.

- ``text``: the key a completion and a prefix are matched on (NFKC, casefolded).
- ``popular``: the one SQL aggregation over ``searches`` and their events (witnesses per query:
  client networks or clicking shoppers, ``search.events.evidence``).
- ``blocklist``: the operator's blocked phrases, matched on a folded key, applied at each build.
- ``catalog_words``: brands, category levels and title word n-grams, counted in products.
- ``index``: one language's prefix index (a MARISA trie, ranks, hot prefixes) and its lookup.
- ``service``: the snapshot of every language, rebuilt off the request path.
"""
