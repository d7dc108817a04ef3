"""Time a 200-term x 5-template probe (1,000 fills) on the embedded tiny demo model, on CPU."""

from __future__ import annotations

import time

from cardgen.demo import DEMO_MODEL
from cardgen.models import load_model
from cardgen.probes import Lexicon, builtin_lexicons, measure_probes, template_probe

TEMPLATES = [
    "This film was filmed in {PLACE}.",
    "The food here reminds me of {PLACE}.",
    "The director was born in {PLACE}.",
    "The story is set in {PLACE}.",
    "I watched this on a flight to {PLACE}.",
]


def main() -> None:
    lexicons = builtin_lexicons()
    terms = (lexicons["countries"].terms + lexicons["religions"].terms)[:200]
    places = Lexicon("bench", terms, (None,) * len(terms), ("PLACE",))
    probe = template_probe("bench", TEMPLATES, lexicons={"PLACE": places})
    model = load_model(DEMO_MODEL, device="cpu")
    measure_probes(model, [probe], n_bootstrap=0)  # warm-up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        measure_probes(model, [probe], n_bootstrap=1000)
        best = min(best, time.perf_counter() - start)
    n = len(TEMPLATES) * len(terms)
    print(
        f"{len(terms)} terms x {len(TEMPLATES)} templates ({n} fills) on the tiny demo model, CPU: "
        f"{best:.3f} s with measures and 1000 bootstrap resamples ({n / best:.0f} fills/s)"
    )


if __name__ == "__main__":
    main()
