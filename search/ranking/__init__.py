"""The learned ranker: features of (query, candidate) pairs computed once per search, in the
search path, and a LambdaMART model (LightGBM) that orders the candidates by them."""
