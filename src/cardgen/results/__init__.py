"""The results file and the run directory: the one contract between evaluation and the card,
gate, compare and push stages. ``schema`` (``EvalResults``, save / load), ``types`` (its
sections), ``predictions`` (per-example predictions), ``rundir`` (whole-run swaps).

The bottom of the package: imports only ``trust`` and ``errors``, never torch.
"""
