"""``healthbridge worker``: a process draining the clinical pipeline's outbox.

With ``HEALTHBRIDGE_PIPELINE_MODE=outbox`` writes queue the children they touch; this
command evaluates them (healthbridge.pipeline.outbox) with the same store hooks as a server
(profile checks, alert messages for the notifications), so N processes — on PostgreSQL,
several hosts — share the queue with ``SKIP LOCKED``. ``--once`` drains what is due and
exits; otherwise the process prints one ``worker: ready`` line on standard output when its
start-up is done (a supervisor or a benchmark waits for it), and drains until SIGINT/SIGTERM.

Once started, the process moves everything alive into the collector's permanent generation,
as ``healthbridge serve`` does (:func:`healthbridge.store.gc_policy.freeze`): the rule set,
the WHO tables, the models and search plans loaded at start-up are then no longer traversed
by the collections that a batch's allocations trigger — about a tenth of a worker's CPU
(``bench/drain.py --freeze-gc``, docs/pipeline.md). It is a batch process for the collector's
policy: each batch of queued changes runs with the collector paused
(:func:`healthbridge.store.gc_policy.bulk_pause`; a server's worker thread never pauses it),
and the collector runs again after it.

The process lowers its own CPU priority to ``HEALTHBRIDGE_PIPELINE_WORKER_NICE`` (nice 10 by
default; never raised: a supervisor's ``Nice=`` above it is kept). On a host it shares with
servers (or PostgreSQL) the kernel then gives the CPU to requests first, and the worker
evaluates the queue with what they leave: it falls further behind under load and takes
more queued rows of each child per evaluation, so the same writes cost less CPU in all
(bench/ingest.py on PostgreSQL, 2 cores: 875-934 -> 958-995 res/s end to end,
bench/results/ingest.md rows ``e19-nice``). On a quiet host nothing waits for it.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``worker`` sub-command."""
    parser = subparsers.add_parser(
        "worker", help="evaluate the clinical pipeline's queued changes (outbox mode)"
    )
    parser.add_argument("--batch", type=int, default=None, help="rows per transaction")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between polls")
    parser.add_argument("--once", action="store_true", help="drain what is due, then exit")
    parser.set_defaults(handler=worker_command)


def lower_priority(nice: int) -> int:
    """Lower this process's CPU priority to ``nice`` unless it is already lower (a
    higher nice value); the nice value it then runs at. Where the system refuses (a
    sandbox without ``setpriority``), the worker runs as started and says so."""
    import os

    if nice > os.getpriority(os.PRIO_PROCESS, 0):
        try:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        except OSError as exc:
            sys.stderr.write(f"worker: CPU priority left as started ({exc})\n")
    return os.getpriority(os.PRIO_PROCESS, 0)


def worker_command(args: argparse.Namespace) -> int:
    """Drain the outbox until interrupted (or once)."""
    import os
    import signal
    import threading

    from healthbridge.api.default_operations import default_registry
    from healthbridge.config import get_settings
    from healthbridge.notify import hooks as notify_hooks
    from healthbridge.pipeline.install import install
    from healthbridge.pipeline.outbox import OutboxWorker, drain
    from healthbridge.server.app import default_hooks
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.repository import Repository
    from healthbridge.store.runtime import running

    settings = get_settings()
    if not settings.clinical_ruleset:
        sys.stderr.write("the clinical pipeline is off (HEALTHBRIDGE_CLINICAL_RULESET empty)\n")
        return 2
    batch = args.batch or settings.pipeline_batch
    nice = lower_priority(settings.pipeline_worker_nice)
    engine = make_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
        hooks = default_hooks(settings)
        installed = install(
            settings.clinical_ruleset, hooks, default_registry(settings.ruleset_key),
            mode="outbox",
        )  # fmt: skip
        notify_hooks.install(hooks)
        repository = Repository(engine, hooks=hooks, base_url=settings.base_url)
        with running(engine, role="batch") as runtime:
            from healthbridge.fhir.r4 import warm_up

            warm_up()  # compiled now, then frozen with the rest of the start-up
            runtime.freeze_gc()
            if args.once:
                done = drain(repository, installed.pipeline, batch=batch)
                print(f"worker: {done} queued change(s) evaluated")  # noqa: T201
                return 0
            worker = OutboxWorker(repository, installed.pipeline, batch=batch, poll=args.poll)
            stopped = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stopped.set())
            worker.start()
            # one line once the start-up (about 3 s of CPU: imports, migrations check, rule
            # set, warm-up) is done: a supervisor or benchmark can wait for it
            print(f"worker: ready (pid {os.getpid()}, batch {batch}, nice {nice})", flush=True)  # noqa: T201
            stopped.wait()
            worker.stop()
    finally:
        engine.dispose()
    return 0
