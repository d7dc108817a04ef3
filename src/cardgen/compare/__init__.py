"""Two runs side by side: paired deltas with CIs and p-values, slices, disagreements, reports.

Reads results and predictions (``results``) and the gate's paired tests (``gate``); never torch.
"""
