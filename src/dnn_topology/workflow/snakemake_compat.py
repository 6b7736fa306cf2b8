"""The workflow's two hooks into Snakemake's private objects, each checked before it is relied on.

Snakemake has no public API for what the workflow needs at the end of a run, so two handlers of the
Snakefile reach into objects that are not part of it:

* :func:`forget_failed_jobs` (``onerror``) erases the metadata records of a failed job's missing outputs
  (``workflow.scheduler.failed``, ``workflow.persistence.cleanup_metadata``): Snakemake records a failed
  job's params and input checksums as if it had run (snakemake/snakemake#3808), and would then skip a
  failed job whose output is ``temp()`` on the next run;
* :func:`cancel_rate_limiter_timers` (``onsuccess``/``onerror``) cancels the job rate limiter's pending
  ``threading.Timer`` of ``JobScheduler._schedule_reevalutation`` (sic), which Python waits for at exit: a run
  would otherwise last up to one ``--max-jobs-per-timespan`` timespan (default 1 s) after its last job.

Both were written against Snakemake 8 and 9 (:data:`WRITTEN_FOR`; ``make setup`` installs the version the
tests run). :func:`missing_parts` lists what a hook relies on and the installed Snakemake lacks;
:func:`check_hooks` (called while the workflow parses) warns about it, naming the consequence and what to do,
and a hook whose parts are missing warns and does nothing: the run's own outcome is never changed by it.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterable

import snakemake
import snakemake.persistence

try:  # Snakemake 9
    from snakemake.scheduling.job_scheduler import JobScheduler
except ImportError:  # pragma: no cover
    try:  # Snakemake 8
        from snakemake.scheduler import JobScheduler
    except ImportError:
        JobScheduler = None

__all__ = [
    "WRITTEN_FOR",
    "SnakemakeCompatWarning",
    "cancel_rate_limiter_timers",
    "check_hooks",
    "forget_failed_jobs",
    "missing_parts",
]

WRITTEN_FOR = "Snakemake 8.0 to 9.x"
_REEVALUATION = "_schedule_reevalutation"  # Snakemake's spelling
_TIMER_PART = f"JobScheduler.{_REEVALUATION}() starting a threading.Timer"

_CONSEQUENCES = {
    "forget_failed_jobs": (
        "after a failed job, its temp() outputs may be taken as up to date on the next run "
        "(snakemake/snakemake#3808); run `snakemake --cleanup-metadata FILE...` on the failed job's outputs "
        "before rerunning"
    ),
    "cancel_rate_limiter_timers": (
        "a run may last up to one --max-jobs-per-timespan timespan (default 1 s) after its last job"
    ),
}


class SnakemakeCompatWarning(UserWarning):
    """The installed Snakemake lacks a private part that a hook of the workflow relies on."""


def snakemake_version() -> str:
    """The installed Snakemake's version."""
    return getattr(snakemake, "__version__", "(unknown version)")


# the installed Snakemake's persistence class (None: not where the hooks expect it)
PERSISTENCE = getattr(snakemake.persistence, "PersistenceBase", None) or getattr(
    snakemake.persistence, "Persistence", None
)


def _assigns(function, name: str) -> bool:
    """Whether ``function``'s code uses the name ``name`` (e.g. sets ``self.<name>``)."""
    code = getattr(function, "__code__", None)
    return code is not None and name in code.co_names


def _starts_timers(job_scheduler) -> bool:
    """Whether ``job_scheduler`` schedules its re-evaluations as the timer hook expects."""
    return _assigns(getattr(job_scheduler, _REEVALUATION, None), "Timer")


def missing_parts(workflow, job_scheduler=None, persistence=None) -> dict[str, list[str]]:
    """Hook name -> the private parts of Snakemake it relies on that are missing (nothing missing: ``{}``).

    Parameters
    ----------
    workflow : snakemake.workflow.Workflow or its class
        The Snakefile's ``workflow``.
    job_scheduler, persistence : type, optional
        Snakemake's ``JobScheduler`` and persistence classes (default: the installed Snakemake's).
    """
    job_scheduler = job_scheduler or JobScheduler
    persistence = persistence or PERSISTENCE
    forget = []
    if not hasattr(workflow, "scheduler") or not hasattr(workflow, "persistence"):
        forget.append("Workflow.scheduler and Workflow.persistence")
    if job_scheduler is None or not _assigns(getattr(job_scheduler, "__init__", None), "failed"):
        forget.append("JobScheduler.failed")
    if persistence is None or not callable(getattr(persistence, "cleanup_metadata", None)):
        forget.append("persistence.cleanup_metadata()")
    timers = [] if _starts_timers(job_scheduler) else [_TIMER_PART]
    return {
        hook: parts for hook, parts in (("forget_failed_jobs", forget), ("cancel_rate_limiter_timers", timers)) if parts
    }


def _warn(hook: str, parts: Iterable[str]) -> None:
    warnings.warn(
        f"Snakemake {snakemake_version()} lacks {', '.join(parts)}, which the workflow's {hook} hook relies on "
        f"(written for {WRITTEN_FOR}): {_CONSEQUENCES[hook]}",
        SnakemakeCompatWarning,
        stacklevel=3,
    )


def check_hooks(workflow) -> dict[str, list[str]]:
    """Warn (:class:`SnakemakeCompatWarning`) for each hook whose parts the installed Snakemake lacks; return them.

    Called while the workflow parses (``workflow``: the Snakefile's), so that a Snakemake release that changed
    these private objects is named at the start of a run, not after a failure.
    """
    missing = missing_parts(workflow)
    for hook, parts in missing.items():
        _warn(hook, parts)
    return missing


def forget_failed_jobs(workflow) -> list[str]:
    """``onerror``: erase what Snakemake recorded about the failed jobs' missing outputs; return those files.

    Without the record, a failed job is judged by file dates alone: its input is newer than the files made
    after it, so it is retried. Outputs that exist (e.g. of the jobs of a SLURM group that did succeed) keep
    their records. Warns and does nothing when the installed Snakemake lacks the parts (see the module
    docstring).

    Parameters
    ----------
    workflow : snakemake.workflow.Workflow
        The Snakefile's ``workflow``.
    """
    failed = getattr(getattr(workflow, "scheduler", None), "failed", None)
    cleanup = getattr(getattr(workflow, "persistence", None), "cleanup_metadata", None)
    if failed is None or cleanup is None:
        _warn(
            "forget_failed_jobs", ["workflow.scheduler.failed" if failed is None else "persistence.cleanup_metadata()"]
        )
        return []
    forgotten = []
    for job in failed:
        for f in job.output:
            if not os.path.exists(f):
                cleanup(f)
                forgotten.append(str(f))
    return forgotten


def cancel_rate_limiter_timers(job_scheduler=None) -> int:
    """``onsuccess``/``onerror``: cancel the scheduler's pending re-evaluation timers; return how many.

    Snakemake's job rate limiter (``--max-jobs-per-timespan``, default 100/1s) starts a non-daemon
    ``threading.Timer`` of one timespan after every scheduling round, and Python waits for it at exit. Once
    the run is over no job is scheduled again, so nothing needs them. Warns and does nothing when the
    installed Snakemake does not start them as this hook expects.

    Parameters
    ----------
    job_scheduler : type, optional
        Snakemake's ``JobScheduler`` class (default: the installed Snakemake's).
    """
    job_scheduler = job_scheduler or JobScheduler
    if not _starts_timers(job_scheduler):
        _warn("cancel_rate_limiter_timers", [_TIMER_PART])
        return 0
    prefix = f"{job_scheduler.__name__}.{_REEVALUATION}."
    cancelled = 0
    for thread in threading.enumerate():
        function = getattr(thread, "function", None)
        if isinstance(thread, threading.Timer) and getattr(function, "__qualname__", "").startswith(prefix):
            thread.cancel()
            cancelled += 1
    return cancelled
