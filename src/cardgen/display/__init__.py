"""What a person reads of a run: terminal tables (``tables``) and matplotlib figures
(``plots``, ``plots_multilabel``), drawn from computed results; nothing here recomputes.

May import ``results``, ``trust`` and ``errors``.
"""
