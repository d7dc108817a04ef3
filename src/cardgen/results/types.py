"""The sections of the results file, as plain dataclasses (``EvalResults`` is in ``results``).

Core values (metrics, confusion matrix, calibration, model, dataset, timing), then the
optional sections: bias probes, slices, failure analysis, multi-label and robustness.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

COMMIT_ID = re.compile(r"[0-9a-f]{40}")
"""A Hub commit id (a git SHA-1): what a repository revision resolves to."""
PAIR_TRUNCATION = "longest_first"
"""How a too-long sentence pair is cut: tokens come off the longer text first."""


@dataclass
class Metric:
    """A metric value with its 95% bootstrap confidence interval (when one was computed).

    ``undefined_resamples`` counts the resamples in which the metric was 0/0 (a class without
    gold rows has no recall), left out of the CI; no CI when every resample was."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    undefined_resamples: int = 0


@dataclass
class ClassMetrics:
    """One row of the per-class table."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class ConfusionMatrix:
    """Counts with rows = gold label and columns = predicted label, in ``labels`` order."""

    labels: list[str]
    counts: list[list[int]]

    def normalized(self) -> list[list[float]]:
        """Row-normalised matrix (recall on the diagonal); empty rows stay zero."""
        rows = []
        for row in self.counts:
            total = sum(row)
            rows.append([c / total if total else 0.0 for c in row])
        return rows


@dataclass
class CalibrationBin:
    lower: float
    upper: float
    count: int
    confidence: float
    accuracy: float


@dataclass
class Calibration:
    """Reliability of the top-class probability: expected calibration error and its bins."""

    ece: float
    n_bins: int
    bins: list[CalibrationBin]


@dataclass
class ModelInfo:
    """What was evaluated, precisely enough to find it again."""

    id: str
    framework: str
    labels: list[str]
    revision: str | None = None
    weights_hash: str | None = None
    architecture: str | None = None
    num_parameters: int | None = None
    max_length: int | None = None
    base_model: str | None = None


@dataclass
class TextPair:
    """The second text of a sentence-pair dataset: its column and the truncation strategy of
    the tokenizer call (``tokenizer(text, text_pair, truncation=...)``) for too-long pairs.
    ``found_by_name``: the pair columns were found by name, not asked for."""

    column: str
    truncation: str = PAIR_TRUNCATION
    found_by_name: bool = False


@dataclass
class DatasetInfo:
    """Where the evaluation rows came from, and a fingerprint of texts and labels.

    ``hub_id`` is the Hub dataset the rows are (``--dataset-id``), when the user said so;
    ``revision`` the commit of the Hub dataset loaded (a ``hub:`` source), when known.
    ``text_pair`` is set when each row is a pair of texts (``text_column``, then its column).
    """

    source: str
    split: str | None
    num_rows: int
    fingerprint: str
    text_column: str
    label_column: str
    labels: list[str]
    name: str | None = None
    config: str | None = None
    hub_id: str | None = None
    text_pair: TextPair | None = None
    revision: str | None = None


@dataclass
class LabelMapping:
    """How model labels were mapped onto dataset labels (``strategy``: name, index or file)."""

    strategy: str
    model_to_dataset: dict[str, str]


@dataclass
class Timing:
    """How fast a run went and in what precision. An exact-fast run (``dtype``
    ``bfloat16+float32-recheck``) re-ran ``rechecked`` rows in float32 (those within
    ``recheck_bound`` of a tie or threshold), so every decision is float32's; the others'
    probabilities are bfloat16's, within ``recheck_bound`` of float32's as measured."""

    device: str
    dtype: str
    batch_size: int
    wall_seconds: float
    examples_per_second: float
    tokens_per_second: float | None = None
    padding_ratio: float | None = None
    truncated: int = 0
    max_length: int | None = None
    hardware: str | None = None
    rechecked: int | None = None
    recheck_bound: float | None = None


@dataclass
class ProbeTerm:
    """One lexicon term: label probabilities averaged over templates, and their spread.

    ``target_std`` and ``target_by_template`` are the target label's probability per template
    (in ``ProbeResult.templates`` order) and its standard deviation across them.
    """

    term: str
    group: str | None
    probabilities: dict[str, float]
    target_std: float
    target_by_template: list[float]


@dataclass
class ProbeResult:
    """A template x lexicon bias probe, summarised for cards and the gate.

    All numbers are about the probability of ``target_label`` (a model label), averaged per
    term over templates. ``range`` is max - min over terms, with a bootstrap CI over templates;
    ``std`` is across terms. ``flip_rate`` is the share of fills whose predicted label differs
    from the most common prediction of their template; ``templates_flipped`` counts templates
    where the prediction changes with the term at all. ``lowest`` / ``highest`` hold the
    extreme terms, most extreme first. ``group_gap`` is the largest difference between group
    means, between the groups ``group_gap_between`` (lowest, highest). ``failure_rate`` is the
    share of fills not predicted as ``expected_label``. ``term_kind`` says what a term is
    ("country name"); ``plot`` is the plot's file name in the run directory.
    """

    name: str
    target_label: str
    templates: list[str]
    terms: list[ProbeTerm]
    range: Metric
    std: float
    flip_rate: float
    lowest: list[tuple[str, float]]
    highest: list[tuple[str, float]]
    group_means: dict[str, float] = field(default_factory=dict)
    group_gap: float | None = None
    expected_label: str | None = None
    failure_rate: float | None = None
    plot: str | None = None
    templates_flipped: int = 0
    group_gap_between: tuple[str, str] | None = None
    term_kind: str | None = None
    pair_templates: list[str] | None = None
    """The second text of each template, for a probe of sentence pairs."""
    lexicon_source: str | None = None


@dataclass
class SliceValue:
    """One value of a slice column: its rows and metrics, each with a bootstrap CI computed
    within the slice. ``recall`` has the classes with gold rows in the slice; ``small`` marks
    a slice under the minimum size (reported, never ranked); ``description`` says what an
    automatic value means ("12-38 tokens")."""

    value: str
    rows: int
    accuracy: Metric
    macro_f1: Metric
    recall: dict[str, Metric] = field(default_factory=dict)
    small: bool = False
    description: str | None = None
    micro_f1: Metric | None = None
    """Multi-label runs only, where ``accuracy`` is the slice's subset accuracy."""


@dataclass
class SliceGap:
    """The largest difference of a metric between two slices of one column (best - worst),
    over slices of at least the minimum size, with a bootstrap CI of that difference."""

    metric: str
    gap: Metric
    worst: str
    best: str


@dataclass
class SliceResult:
    """Metrics per value of one column (``kind``: column, length or truncated)."""

    column: str
    kind: str
    min_size: int
    values: list[SliceValue]
    gaps: dict[str, SliceGap] = field(default_factory=dict)
    note: str | None = None


@dataclass
class FailureExample:
    """A mistake (or label issue candidate) to look at; ``text`` is None with examples off.
    ``probability`` is the model's probability of ``predicted``, ``gold_probability`` of
    ``gold`` (None for models without probabilities)."""

    index: int
    gold: str
    predicted: str
    probability: float | None = None
    gold_probability: float | None = None
    text: str | None = None
    text_pair: str | None = None


@dataclass
class ConfusedPair:
    """A gold -> predicted confusion: its count, its share of the gold class's rows, and the
    most confident mistakes of the pair."""

    gold: str
    predicted: str
    count: int
    share: float
    examples: list[FailureExample] = field(default_factory=list)


@dataclass
class LabelIssues:
    """Rows whose gold label may be wrong by confident learning (Northcutt et al., 2021):
    candidates to review, never corrections. ``thresholds`` are the per-class thresholds
    (mean predicted probability of the class over its gold rows); ``by_pair`` counts
    candidates per "gold -> suggested" pair."""

    count: int
    share: float
    thresholds: dict[str, float]
    by_pair: list[tuple[str, str, int]] = field(default_factory=list)
    examples: list[FailureExample] = field(default_factory=list)


@dataclass
class FailureAnalysis:
    """Where the model fails: the most confused pairs and likely label errors."""

    errors: int
    pairs: list[ConfusedPair]
    label_issues: LabelIssues | None = None
    examples: bool = True


TASKS = ("single_label", "multi_label")
"""What a run evaluated: one label per text (softmax), or any set of labels (sigmoid)."""


@dataclass
class LabelDetail:
    """One label of a multi-label run: its decision threshold, its 2x2 table of gold x
    predicted counts, ROC-AUC (None when the label is always or never gold), expected
    calibration error of its probability, and the 95% bootstrap CI of its F1 over the
    resamples where the label was gold or predicted at least once (``f1_undefined_resamples``
    counts the others, where its F1 is 0/0).

    Precision, recall, F1 and support are in ``EvalResults.per_class``.
    """

    label: str
    threshold: float
    tp: int
    fp: int
    fn: int
    tn: int
    roc_auc: float | None = None
    ece: float | None = None
    f1_ci: tuple[float, float] | None = None
    f1_undefined_resamples: int = 0


@dataclass
class FalsePositivePair:
    """How often ``predicted`` was predicted without being gold on an example whose gold set
    held ``gold`` (None: an example with no gold label)."""

    predicted: str
    gold: str | None
    count: int


@dataclass
class MultiLabelResults:
    """The multi-label section of a run: per-label details, in ``EvalResults.labels`` order,
    and the most frequent false positives with the gold labels they co-occur with.

    ``threshold_source`` is ``default`` (one threshold for all) or the thresholds file's name.
    ``EvalResults.calibration`` then pools every (example, label) probability.
    """

    threshold_source: str
    labels: list[LabelDetail]
    false_positives: list[FalsePositivePair] = field(default_factory=list)


@dataclass
class RobustnessExample:
    """A prediction that a perturbation flipped. ``confidence`` is the probability (score) of
    ``perturbed_prediction`` on the edited text; ``gold_probability`` and
    ``perturbed_gold_probability`` how much the scores backed the gold label before and after
    the edit (for label sets, the mean score on the gold side of every label). The texts are
    excerpts around the first edit, None when examples are off."""

    index: int
    gold: str
    prediction: str
    perturbed_prediction: str
    confidence: float
    text: str | None = None
    perturbed_text: str | None = None
    text_pair: str | None = None
    perturbed_text_pair: str | None = None
    gold_probability: float | None = None
    perturbed_gold_probability: float | None = None


@dataclass
class RobustnessResult:
    """One perturbation of the evaluated rows (``rows``: all, or a seeded sample).

    ``changed`` rows had a text the perturbation edited; ``flip_rate`` is the share of them
    whose predicted label changed (None when no row changed), of which ``broke`` went from
    right to wrong and ``fixed`` from wrong to right (None in results of cardgen before
    they were counted); ``accuracy`` is the accuracy over all
    ``rows`` with the edited texts, ``base_accuracy`` the same rows' accuracy unedited (subset
    accuracy for multi-label runs, where a flip is a change of the predicted label set). CIs
    come from a seeded bootstrap over examples; ``seconds`` covers editing and predicting.
    ``examples`` are the most damaging right-to-wrong flips, ``fixed_examples`` the
    wrong-to-right ones.
    """

    name: str
    description: str
    rows: int
    changed: int
    flipped: int
    accuracy: Metric
    base_accuracy: float
    flip_rate: Metric | None = None
    seconds: float = 0.0
    examples: list[RobustnessExample] = field(default_factory=list)
    broke: int | None = None
    fixed: int | None = None
    fixed_examples: list[RobustnessExample] = field(default_factory=list)
