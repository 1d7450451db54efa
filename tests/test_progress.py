"""Progress lines: work deep inside a step reports into the step's status line."""

from __future__ import annotations

import pytest

from digitlab import _progress


def _recording(line):
    seen = []
    line.display.update = seen.append
    return seen


def test_report_reaches_the_innermost_running_status_and_nothing_outside():
    _progress.report("nobody is listening")  # no status: a no-op, not an error
    with _progress.status(True, "fitting cnn") as outer:
        seen_outer = _recording(outer)
        _progress.report("epoch 1/5, 10%, loss 2.3012")
        with _progress.status(True, "evaluating") as inner:
            seen_inner = _recording(inner)
            _progress.report("predicting …")
        _progress.report("epoch 2/5, 10%, loss 0.5")
    _progress.report("after")
    assert seen_outer == ["fitting cnn: epoch 1/5, 10%, loss 2.3012 …", "fitting cnn: epoch 2/5, 10%, loss 0.5 …"]
    assert seen_inner == ["evaluating: predicting …"]
    assert _progress.status(False, "x").__enter__() is None  # progress=False: nothing at all


def test_cnn_reports_its_epochs_to_the_status_line(mnist):
    """train(progress=True) on the CNN: its epochs show on the fit's line, ten times per epoch."""
    pytest.importorskip("torch")
    from digitlab.models import make_model

    split = mnist.train_test(limit=600, seed=0)
    model = make_model("cnn", {"max_epochs": 2, "batch_size": 60, "min_steps": 1})  # 10 batches an epoch
    with _progress.status(True, "fitting cnn") as line:
        seen = _recording(line)
        model.fit(split.X_train, split.y_train)
    epochs = [t.split(": ", 1)[1].split(",")[0] for t in seen]
    assert epochs.count("epoch 1/2") == 10 and epochs.count("epoch 2/2") == 10, seen
    assert seen[-1].startswith("fitting cnn: epoch 2/2, 100%, loss ")


HOSTILE = "z[bold]x\x1b[31mY\nforged line"  # a class folder's name: rich markup, an ESC, a newline


def test_a_hostile_class_name_in_a_step_label_prints_as_text(capsys):
    """The study's labels name the detector's class, a dataset folder's name: neither rich markup
    nor control characters in it reach the terminal."""
    with _progress.Board(True, total=1) as board:
        board.start("d", f"the {HOSTILE}-detector")
        board.end("d")
    err = capsys.readouterr().err
    assert "the z[bold]x\\x1b[31mY\\nforged line-detector" in err
    assert "\x1b[31m" not in err and "\nforged" not in err
    assert list(board.timings) == [f"the {HOSTILE}-detector"]  # as given: --json's encoder escapes it
    with _progress.status(True, f"fitting {HOSTILE}") as line:  # a status line and what reports into it
        seen = _recording(line)
        _progress.report(HOSTILE)
    assert seen == ["fitting z\\[bold]x\\x1b[31mY\\nforged line: z\\[bold]x\\x1b[31mY\\nforged line …"]
