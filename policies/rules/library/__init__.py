"""What the rules share: the resource graph and its reads (graph.py), the analysis's one conversion per resource
(analysis.py) and the cost model (cost_model.py, which the program's tools read too)."""
