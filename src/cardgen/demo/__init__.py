"""The embedded demo: a tiny DistilBERT sentiment model and its evaluation set.

Both are made by ``scripts/build_demo.py`` from synthetic data; the model is a demo of the
tool, not a real sentiment classifier.
"""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).parent
DEMO_MODEL = DEMO_DIR / "model"
DEMO_DATASET = DEMO_DIR / "eval.jsonl"
