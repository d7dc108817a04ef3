"""Model cards: results -> Jinja context -> Markdown with Hub metadata, and the card file.

Owns rendering (``render``, ``context``, ``templating``, the per-task and analysis views),
cardgen's managed sections and merging them into a person's card (``sections``, ``merge``,
``markdown``), what a card brings along (``export``), skops sections and training logs, and the
Hub's metadata conventions (``conventions``) and card-file checks (``file``). Reads results only:
may import ``results``, ``display``, ``trust`` and ``errors``; never torch, never an engine.
"""
