"""Build the embedded demo: a tiny DistilBERT sentiment model and its evaluation set.

Both come from synthetic movie-review sentences (``cardgen.demo.synthetic``), with 5% label noise
and a spurious association between filming locations and sentiment (30% of the training rows
only name the place, labelled by its share in ``PLACES``) that the bias probes find.
The result is a demo of cardgen, not a real sentiment model. Re-run to rebuild:

    .venv/bin/python scripts/build_demo.py
"""

from __future__ import annotations

import shutil

from cardgen.demo import DEMO_DATASET, DEMO_MODEL
from cardgen.demo.synthetic import sentiment_corpus, train_tiny_distilbert
from cardgen.trust.atomic import write_jsonl

LABELS = ["negative", "positive"]


def main() -> None:
    shutil.rmtree(DEMO_MODEL, ignore_errors=True)
    rows = sentiment_corpus(3000, seed=1, place_only=0.3)
    train_tiny_distilbert(rows, LABELS, DEMO_MODEL, dim=64, epochs=6)
    write_jsonl(DEMO_DATASET, sentiment_corpus(1000, seed=2))
    print(f"wrote {DEMO_MODEL} and {DEMO_DATASET}")


if __name__ == "__main__":
    main()
