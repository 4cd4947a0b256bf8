"""Analysis of finished studies: hyperparameter importance, training diagnostics, ensembles.

Each module imports what it needs (scikit-learn, PyTorch) when it is used, so that importing
this package stays cheap and needs nothing beyond tunelab's core.
"""
