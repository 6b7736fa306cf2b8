"""The workflow's hooks into Snakemake's private objects: present in the installed Snakemake, and a clear
warning (never a failure of the run's handlers) when a Snakemake release lacks them.

What the hooks achieve in real runs is tested by tests/test_workflow.py (a run ends with its last job; a
failed job is retried on every run). Here the installed Snakemake's own classes are checked, its own
re-evaluation timer is cancelled, and stand-in objects play a Snakemake without the parts, which cannot be
installed next to the real one.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
import snakemake.api  # noqa: F401 (snakemake.workflow can only be imported after it)
from snakemake.workflow import Workflow

from dnn_topology.workflow import snakemake_compat as compat


def test_the_installed_snakemake_has_every_part_the_hooks_rely_on():
    assert compat.JobScheduler is not None and compat.PERSISTENCE is not None
    assert compat.missing_parts(Workflow) == {}


def test_only_the_schedulers_reevaluation_timers_are_cancelled():
    # the installed Snakemake's own method starts the timer, as a scheduling round does
    compat.JobScheduler._schedule_reevalutation(SimpleNamespace(_open_jobs=threading.Semaphore(0)), 3600)
    (scheduler_timer,) = [
        t for t in threading.enumerate() if isinstance(t, threading.Timer) and "JobScheduler" in t.function.__qualname__
    ]
    other = threading.Timer(3600, lambda: None)
    other.start()
    try:
        assert compat.cancel_rate_limiter_timers() == 1
        scheduler_timer.join(10)
        assert not scheduler_timer.is_alive() and other.is_alive()
    finally:
        other.cancel()


def test_failed_jobs_forget_the_records_of_their_missing_outputs_only(tmp_path):
    made = tmp_path / "made.csv"
    made.write_text("kept\n")
    missing = tmp_path / "missing.csv"
    erased = []
    workflow = SimpleNamespace(
        scheduler=SimpleNamespace(failed=[SimpleNamespace(output=[str(made), str(missing)])]),
        persistence=SimpleNamespace(cleanup_metadata=erased.append),
    )
    assert compat.forget_failed_jobs(workflow) == [str(missing)] and erased == [str(missing)]


def test_a_snakemake_without_the_parts_gets_a_warning_naming_the_consequence():
    class OldScheduler:  # no failed set, no re-evaluation timer
        def __init__(self):
            self.running = set()

    class OldPersistence:
        pass

    missing = compat.missing_parts(SimpleNamespace(), OldScheduler, OldPersistence)
    assert missing == {
        "forget_failed_jobs": [
            "Workflow.scheduler and Workflow.persistence",
            "JobScheduler.failed",
            "persistence.cleanup_metadata()",
        ],
        "cancel_rate_limiter_timers": ["JobScheduler._schedule_reevalutation() starting a threading.Timer"],
    }
    with pytest.warns(compat.SnakemakeCompatWarning, match=r"--cleanup-metadata") as record:
        assert compat.forget_failed_jobs(SimpleNamespace(scheduler=None)) == []
    assert f"Snakemake {compat.snakemake_version()} lacks workflow.scheduler.failed" in str(record[0].message)
    with pytest.warns(compat.SnakemakeCompatWarning, match=r"after its last job"):
        assert compat.cancel_rate_limiter_timers(OldScheduler) == 0


def test_the_workflow_checks_its_hooks_when_it_parses(recwarn):
    assert compat.check_hooks(Workflow) == {} and not recwarn.list
    with pytest.warns(compat.SnakemakeCompatWarning, match="forget_failed_jobs hook"):
        assert "forget_failed_jobs" in compat.check_hooks(SimpleNamespace())
