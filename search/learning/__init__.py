"""Learning to rank from judgments: training data through the one search path, LightGBM's
LambdaMART, the model card, and the shipped default ranker's build."""
