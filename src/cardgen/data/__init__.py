"""Evaluation data: files, ``save_to_disk`` directories and ``datasets`` names read into columns
(``load``, ``files``, ``hub``, ``columns``), row fingerprints, multi-label gold sets, and the
alignment of a model's labels with the dataset's (``labels``).

May import ``results`` (the dataset's record), ``trust`` and ``errors``; never a model.
"""
