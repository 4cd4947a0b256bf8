"""Analysis of finished studies: hyperparameter importance, training diagnostics, ensembles,
and attributions of a trial's model (:mod:`.explain`).

Each module imports what it needs (scikit-learn, PyTorch, Captum) when it is used, so that
importing this package stays cheap and needs nothing beyond tunelab's core.
"""
