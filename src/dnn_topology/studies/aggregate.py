"""Aggregation stage: one table per run for the Betti curves, their summaries and training, and for the
adversarial study the same tables over clean and attacked inputs plus the attack records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..io_utils import write_csv
from ..layout import parse_epoch_path, parse_trial_path


def _read_per_epoch(path: str | Path, run: str) -> pd.DataFrame:
    """A per-epoch CSV with run, trial and epoch columns (taken from its path) in front."""
    where = parse_epoch_path(path)
    df = pd.read_csv(path)
    df.insert(0, "epoch", where.epoch)
    df.insert(0, "trial", where.trial)
    df.insert(0, "run", run)
    return df


def concat_per_epoch(paths: Sequence[str | Path], run: str) -> pd.DataFrame:
    """Concatenate per-epoch CSVs, adding run, trial and epoch columns taken from each path."""
    frames = [_read_per_epoch(p, run) for p in paths]
    return pd.concat(frames, ignore_index=True).sort_values(["trial", "epoch", "dim"], kind="stable", ignore_index=True)


def _trial_of(path: str | Path) -> int:
    """The trial of a training log (``.../trial_<T>/training.csv``) or of an evaluation
    (``.../trial_<T>/epoch_<E>/evaluation.csv``)."""
    try:
        return parse_trial_path(path).trial
    except ValueError:
        return parse_epoch_path(path).trial


def concat_training(paths: Sequence[str | Path], run: str) -> pd.DataFrame:
    """Training logs (or evaluations of checkpoints trained elsewhere, one epoch each) with run and trial columns."""
    frames = []
    for p in paths:
        trial = _trial_of(p)
        df = pd.read_csv(p)
        df.insert(0, "trial", trial)
        df.insert(0, "run", run)
        frames.append(df)
    return pd.concat(frames, ignore_index=True).sort_values(["trial", "epoch"], ignore_index=True)


def aggregate_stage(
    *,
    run: str,
    curve_csvs: Sequence[str | Path],
    summary_csvs: Sequence[str | Path],
    training_csvs: Sequence[str | Path],
    curves: str | Path,
    summary: str | Path,
    training: str | Path,
) -> None:
    """Stage ``aggregate``: every trial's and epoch's tables of run ``run``, one table each.

    Parameters
    ----------
    run : str
        Run name, written in a ``run`` column.
    curve_csvs, summary_csvs : sequence of paths
        Per-epoch Betti curves and summaries under ``.../trial_<T>/epoch_<E>/`` (trial and epoch
        columns are taken from the path).
    training_csvs : sequence of paths
        Per-trial training metrics under ``.../trial_<T>/``, or, for checkpoints trained elsewhere, the per-epoch
        evaluations ``.../trial_<T>/epoch_<E>/evaluation.csv`` (the same columns).
    curves, summary, training : str or Path
        The three CSV files to write (atomically).
    """
    write_csv(concat_per_epoch(curve_csvs, run), curves)
    write_csv(concat_per_epoch(summary_csvs, run), summary)
    write_csv(concat_training(training_csvs, run), training)


def concat_input_sets(paths: Sequence[str | Path], run: str, attacks: Mapping[str, Mapping]) -> pd.DataFrame:
    """Per-epoch CSVs of clean and attacked inputs in one table: ``run, trial, epoch, attack, method, attack_epsilon,
    ...`` (clean inputs: attack ``clean``, method ``none``, attack_epsilon 0; the attack's budget in pixel units,
    not the filtration value ``epsilon`` of the curves); ``attacks`` maps attack ids to their specs."""
    frames = []
    for p in paths:
        df = _read_per_epoch(p, run)
        attack_id = parse_epoch_path(p).attack or "clean"
        spec = attacks.get(attack_id, {"method": "none", "epsilon": 0.0})
        df.insert(3, "attack", attack_id)
        df.insert(4, "method", spec["method"])
        df.insert(5, "attack_epsilon", float(spec["epsilon"]))
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    keys = ["trial", "epoch", "attack_epsilon", "method", "attack"] + (["dim"] if "dim" in out.columns else [])
    return out.sort_values(keys, kind="stable", ignore_index=True)


def adversarial_aggregate_stage(
    *,
    run: str,
    attacks: Mapping[str, Mapping],
    curve_csvs: Sequence[str | Path],
    summary_csvs: Sequence[str | Path],
    record_csvs: Sequence[str | Path],
    curves: str | Path,
    summary: str | Path,
    records: str | Path,
) -> None:
    """Stage ``adversarial_aggregate``: clean and attacked inputs' tables of run ``run``, one table each.

    Parameters
    ----------
    run : str
        Run name, written in a ``run`` column.
    attacks : mapping
        attack id -> attack spec (``method``, ``epsilon``).
    curve_csvs, summary_csvs : sequence of paths
        Per-epoch Betti curves and summaries, clean (``epoch_<E>/``) and attacked (``epoch_<E>/<attack id>/``);
        see :func:`concat_input_sets`.
    record_csvs : sequence of paths
        Per-epoch attack records (``epoch_<E>/<attack id>/attack.csv``).
    curves, summary, records : str or Path
        The three CSV files to write (atomically).
    """
    write_csv(concat_input_sets(curve_csvs, run, attacks), curves)
    write_csv(concat_input_sets(summary_csvs, run, attacks), summary)
    write_csv(
        pd.concat([_read_per_epoch(p, run) for p in record_csvs], ignore_index=True).sort_values(
            ["trial", "epoch", "method", "epsilon"], ignore_index=True
        ),
        records,
    )
