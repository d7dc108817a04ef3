"""Runs side by side: two runs' paired deltas with CIs and p-values, slices, disagreements; a
leaderboard of three or more with Holm-corrected paired tests; reports that open with what
differs between the runs' settings (``results.settings``).

Reads results and predictions (``results``) and the gate's paired tests (``gate``); never torch.
"""
