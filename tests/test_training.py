from __future__ import annotations

import json
from pathlib import Path

import pytest

from cardgen.errors import CardError
from cardgen.training import column_title, load_hyperparameters, load_training_history

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
