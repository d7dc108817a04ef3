from __future__ import annotations

import json
from pathlib import Path

import pytest

from cardgen.cards.history_table import column_title
from cardgen.cards.training import load_hyperparameters, load_training_history
from cardgen.errors import CardError

TRAINER_STATE = {
    "epoch": 2.0,
    "global_step": 20,
    "max_steps": 20,
    "num_train_epochs": 2,
    "train_batch_size": 16,
    "is_world_process_zero": True,
    "log_history": [
        {"epoch": 0.5, "step": 5, "loss": 0.9, "learning_rate": 2e-5},
        {"epoch": 1.0, "step": 10, "loss": 0.7, "learning_rate": 1e-5},
        {
            "epoch": 1.0,
            "step": 10,
            "eval_loss": 0.65,
            "eval_accuracy": 0.8,
            "eval_f1": 0.78,
            "eval_runtime": 1.2,
            "eval_samples_per_second": 99.0,
        },
        {"epoch": 2.0, "step": 20, "loss": 0.4, "learning_rate": 0.0},
        {"epoch": 2.0, "step": 20, "eval_loss": 0.5, "eval_accuracy": 0.85, "eval_f1": 0.84},
        {"epoch": 2.0, "step": 20, "train_runtime": 30.0, "train_loss": 0.6},
    ],
}


def test_trainer_state_gives_one_row_per_evaluation_with_the_latest_training_loss(
    tmp_path: Path,
) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps(TRAINER_STATE))
    history = load_training_history(path)
    assert history.kind == "trainer" and history.source == "trainer_state.json"
    assert history.columns == [
        "Training Loss",
        "Epoch",
        "Step",
        "Validation Loss",
        "Accuracy",
        "F1",
    ]
    assert history.rows == [
        {
            "Training Loss": 0.7,
            "Epoch": 1.0,
            "Step": 10,
            "Validation Loss": 0.65,
            "Accuracy": 0.8,
            "F1": 0.78,
        },
        {
            "Training Loss": 0.4,
            "Epoch": 2.0,
            "Step": 20,
            "Validation Loss": 0.5,
            "Accuracy": 0.85,
            "F1": 0.84,
        },
    ]
    assert history.hyperparameters == {
        "train_batch_size": 16,
        "num_train_epochs": 2,
        "max_steps": 20,
        "logging_strategy": "steps",  # losses at steps 5, 10, 20: not epoch ends
        "eval_strategy": "epoch",
    }


def test_trainer_state_without_evaluation_keeps_the_last_loss_of_each_epoch(tmp_path: Path) -> None:
    state = {
        **TRAINER_STATE,
        "log_history": [e for e in TRAINER_STATE["log_history"] if "loss" in e],
    }
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps(state))
    history = load_training_history(path)
    assert history.rows == [
        {"Training Loss": 0.7, "Epoch": 1.0, "Step": 10},
        {"Training Loss": 0.4, "Epoch": 2.0, "Step": 20},
    ]


def test_evaluation_before_any_training_loss_says_no_log(tmp_path: Path) -> None:
    state = {"log_history": [{"epoch": 0.0, "step": 0, "eval_loss": 1.0}]}
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    assert load_training_history(path).rows[0]["Training Loss"] == "No log"


def test_keras_csvlogger_file_counts_epochs_from_one(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(
        "epoch,accuracy,loss,lr,val_accuracy,val_loss\n"
        "1,0.8,0.5,0.001,0.75,0.6\n"
        "0,0.6,0.9,0.001,0.7,0.8\n"
    )
    history = load_training_history(path)
    assert history.kind == "keras"
    assert history.columns == [
        "Epoch",
        "Training Loss",
        "Accuracy",
        "Validation Loss",
        "Validation Accuracy",
        "Learning Rate",
    ]
    assert [row["Epoch"] for row in history.rows] == [1, 2]
    assert (
        history.rows[0]["Training Loss"] == 0.9 and history.rows[1]["Validation Accuracy"] == 0.75
    )


def test_keras_history_json(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"loss": [0.9, 0.5], "val_loss": [1.0, 0.7], "acc": [0.5, 0.8]}))
    history = load_training_history(path)
    assert history.columns == ["Epoch", "Training Loss", "Acc", "Validation Loss"]
    assert history.rows[1] == {"Epoch": 2, "Training Loss": 0.5, "Acc": 0.8, "Validation Loss": 0.7}


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("[1, 2]", "h.json", "neither a trainer_state.json"),
        ('{"loss": 1}', "h.json", "neither a trainer_state.json"),
        ("{not json", "h.json", "training history .*h.json is not valid JSON"),
        ("loss,acc\n1,2\n", "h.csv", "'epoch' column"),
    ],
)
def test_bad_history_files_are_clear_errors(
    tmp_path: Path, content: str, name: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(CardError, match=message):
        load_training_history(path)


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="does not exist"):
        load_training_history(tmp_path / "none.json")
    with pytest.raises(CardError, match="hyperparameters file .* does not exist"):
        load_hyperparameters(tmp_path / "none.json")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(CardError, match="must hold a JSON object"):
        load_hyperparameters(tmp_path / "list.json")


@pytest.mark.parametrize(
    ("key", "title"),
    [
        ("loss", "Training Loss"),
        ("eval_loss", "Validation Loss"),
        ("val_accuracy", "Validation Accuracy"),
        ("eval_macro_f1", "Macro F1"),
        ("roc_auc", "ROC AUC"),
    ],
)
def test_column_titles(key: str, title: str) -> None:
    assert column_title(key) == title


def test_a_real_trainer_run_shows_only_hyperparameters_in_effect(tmp_path: Path) -> None:
    """A tiny DistilBERT trained for 2 epochs by transformers.Trainer, evaluated per epoch on
    two sets; the card shows the strategies, no default steps, and one row per evaluation."""
    pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate")
    import torch
    from conftest import SENTIMENT, make_results, save_run
    from transformers import (
        DistilBertConfig,
        DistilBertForSequenceClassification,
        Trainer,
        TrainingArguments,
    )

    from cardgen.cards.render import render_card
    from cardgen.demo.synthetic import build_tokenizer, sentiment_corpus

    rows = sentiment_corpus(64, seed=3)
    tokenizer = build_tokenizer([row["text"] for row in rows])
    torch.manual_seed(0)
    config = DistilBertConfig(  # type: ignore[call-arg]
        vocab_size=tokenizer.vocab_size, dim=16, hidden_dim=32, n_layers=1, n_heads=2,
        max_position_embeddings=64, num_labels=2, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    index = {label: i for i, label in enumerate(SENTIMENT)}

    class Rows(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __init__(self, part: list[dict]) -> None:
            self.items = [
                {
                    **tokenizer(r["text"], truncation=True, max_length=32),
                    "labels": index[r["label"]],
                }
                for r in part
            ]

        def __len__(self) -> int:
            return len(self.items)

        def __getitem__(self, i: int) -> dict:
            return self.items[i]

    from transformers import DataCollatorWithPadding

    def accuracy(prediction) -> dict[str, float]:  # noqa: ANN001
        return {
            "accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())
        }

    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), num_train_epochs=2, per_device_train_batch_size=16,
        eval_strategy="epoch", save_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True, seed=0,
    )  # fmt: skip
    trainer = Trainer(
        model=DistilBertForSequenceClassification(config),
        args=args,
        train_dataset=Rows(rows[:48]),
        eval_dataset={"dev": Rows(rows[48:56]), "heldout": Rows(rows[56:])},
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=accuracy,
    )
    trainer.train()
    trainer.state.save_to_json(str(tmp_path / "trainer_state.json"))
    state = json.loads((tmp_path / "trainer_state.json").read_text())
    assert state["eval_steps"] == 500 and state["save_steps"] == 500  # the defaults, unused

    history = load_training_history(tmp_path / "trainer_state.json")
    assert history.hyperparameters == {
        "train_batch_size": 16,
        "num_train_epochs": 2,
        "max_steps": 6,
        "logging_strategy": "steps",
        "logging_steps": 500,
        "eval_strategy": "epoch",
    }
    assert [row["Epoch"] for row in history.rows] == [1.0, 2.0]
    assert history.columns == [
        "Training Loss", "Epoch", "Step",
        "dev: Loss", "dev: Accuracy", "heldout: Loss", "heldout: Accuracy",
    ]  # fmt: skip
    assert all(value is not None for row in history.rows for value in row.values())
    run = save_run(make_results(), tmp_path / "run")
    card = render_card(run, training_history=tmp_path / "trainer_state.json")
    table = card.split("### Hyperparameters")[1].split("### Training results")[0]
    assert "| eval_strategy | epoch |" in table
    assert "eval_steps" not in table and "save_steps" not in table


def test_trainer_log_with_several_eval_sets_gives_one_row_per_step(tmp_path: Path) -> None:
    log = [
        {"epoch": 1.0, "step": 10, "loss": 0.7},
        {"epoch": 1.0, "step": 10, "eval_dev_loss": 0.6, "eval_dev_f1": 0.7,
         "eval_dev_runtime": 0.1, "eval_dev_samples_per_second": 80.0},
        {"epoch": 1.0, "step": 10, "eval_heldout_loss": 0.65, "eval_heldout_f1": 0.68,
         "eval_heldout_runtime": 0.1},
        {"epoch": 2.0, "step": 20, "loss": 0.4},
        {"epoch": 2.0, "step": 20, "eval_dev_loss": 0.5, "eval_dev_f1": 0.8},
        {"epoch": 2.0, "step": 20, "eval_heldout_loss": 0.55, "eval_heldout_f1": 0.75},
    ]  # fmt: skip
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"log_history": log, "eval_steps": 500}))
    history = load_training_history(path)
    assert history.columns == [
        "Training Loss", "Epoch", "Step", "dev: Loss", "dev: F1", "heldout: Loss", "heldout: F1"
    ]  # fmt: skip
    assert history.rows[1] == {
        "Training Loss": 0.4, "Epoch": 2.0, "Step": 20,
        "dev: Loss": 0.5, "dev: F1": 0.8, "heldout: Loss": 0.55, "heldout: F1": 0.75,
    }  # fmt: skip
    assert history.hyperparameters["eval_strategy"] == "epoch"
    assert "eval_steps" not in history.hyperparameters


@pytest.mark.parametrize("separator", [",", ";", "\t", "|"])
def test_keras_csvlogger_separators(tmp_path: Path, separator: str) -> None:
    header = ["epoch", "accuracy", "learning_rate", "loss", "val_accuracy", "val_loss"]
    lines = [
        header,
        ["0", "0.6", "0.001", "0.9", "0.55", "1.0"],
        ["1", "0.8", "0.0005", "0.5", "0.7", "0.8"],
    ]
    path = tmp_path / "log.csv"
    path.write_text("".join(separator.join(line) + "\n" for line in lines))
    history = load_training_history(path)
    assert history.columns == [
        "Epoch", "Training Loss", "Accuracy", "Validation Loss", "Validation Accuracy",
        "Learning Rate",
    ]  # fmt: skip
    assert history.rows[1]["Learning Rate"] == 0.0005 and history.rows[1]["Accuracy"] == 0.8


def test_steps_of_a_strategy_not_in_effect_are_dropped() -> None:
    from cardgen.cards.training import effective_hyperparameters

    params = {
        "learning_rate": 2e-5, "eval_strategy": "epoch", "eval_steps": 500,
        "logging_strategy": "steps", "logging_steps": 50, "save_strategy": "no",
        "save_steps": 500,
    }  # fmt: skip
    assert effective_hyperparameters(params) == {
        "learning_rate": 2e-5, "eval_strategy": "epoch", "logging_strategy": "steps",
        "logging_steps": 50, "save_strategy": "no",
    }  # fmt: skip
    assert "eval_steps" not in effective_hyperparameters(
        {"evaluation_strategy": "epoch", "eval_steps": 500}
    )
