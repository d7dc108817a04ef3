"""``evaluate``: options checked (``options``) -> data and model loaded -> predictions ->
analyses -> results -> the run's files (``outputs``). The composition of the lower packages:
may import any of them but ``cli``.
"""
