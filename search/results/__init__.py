"""Results: items, the ranked head, pages and the match set's totals and facets."""
