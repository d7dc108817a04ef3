"""Publishing a card to the Hub: ``push`` checks and sends, ``commit`` is the one call that
commits, ``merge`` merges with the Hub's README, ``http`` bounds every request.

May import ``cards``, ``trust`` and ``errors``; never torch.
"""
