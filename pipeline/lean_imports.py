"""Beam without its optional integrations, for the processes of a local run.

`import apache_beam` imports every optional integration that happens to be installed (each
inside try/except): the BigQuery client (and, through tqdm's notebook bar, IPython), Pub/Sub
and the Dataflow API client, ~1.2 CPU-s of the ~3.4 a process spends importing Beam on this
machine. A local run uses none of them, neither in its worker processes
(`pipeline.worker_main`) nor in the launcher, so both mark them missing, as if not
installed, before Beam is first imported. A job for another runner (Dataflow) imports them.
"""

from __future__ import annotations

import contextlib
import importlib
import sys

SKIPPED_MODULES = ("IPython", "google.cloud.bigquery", "google.cloud.pubsub",
                   "google.cloud.dataflow_v1beta3")
"""Imported by `import apache_beam` only when installed (each in a try/except), and never by
a local run of this project. Not pandas (see `HIDDEN_FROM_BEAM`) nor pymongo (Beam then
prints a warning)."""
DEFAULT_LOCAL_RUNNER = "FnApiRunner"
"""The runner of a job without `--runner` (see pipeline/beam_options.py)."""
LOCAL_RUNNERS = (DEFAULT_LOCAL_RUNNER, "DirectRunner", "BundleBasedDirectRunner")
"""The runners that run a job in and beside the launching process."""


HIDDEN_FROM_BEAM = ("pandas",)
"""Imported by `import apache_beam` when installed (Beam's typehints register pandas batch
converters; ~0.5 CPU-s) and used by no local run of ours, but not skippable for good: pyarrow
imports pandas on demand and its pandas shim fails on a module marked missing. So it is
hidden from Beam's own import only (`skip_optional_imports`), and stays importable after."""


REMOTE_FILESYSTEMS = ("apache_beam.io.gcp.gcsfilesystem", "apache_beam.io.aws.s3filesystem")
"""Beam's `gs://` and `s3://` filesystems, which `import apache_beam` loads when it can (the
`gcp` extra brings gs://'s client libraries; s3:// imports without boto3). A job that names
no remote path (`://` in no argument) never uses them, so its launcher hides them from Beam's
import too (`skip_optional_imports_for_local_run`): Beam's import, on the launcher's critical
path, went from ~0.60 to ~0.55 s (`python -X importtime`, 2026-12-02; most of their chains,
google.auth and the like, Beam imports anyway). Beam finds a filesystem among the classes
imported, so importing one later registers it."""


def names_remote_path(argv: list[str]) -> bool:
    """Whether any argument is or holds a URL-like path (`gs://`, `s3://`, ...)."""
    return any("://" in arg for arg in argv)


def load_remote_filesystems() -> None:
    """Import (so register) each of `REMOTE_FILESYSTEMS` whose client libraries are installed,
    for a process that hid them from an earlier job's Beam import."""
    for name in REMOTE_FILESYSTEMS:
        if name not in sys.modules:
            # not installed: the path then fails with Beam's own "no filesystem" error
            with contextlib.suppress(ImportError):
                importlib.import_module(name)


def skip_optional_imports(hide: tuple[str, ...] = ()) -> None:
    """Make `import` of each of `SKIPPED_MODULES` raise ImportError in this process, and
    import Beam now, without `HIDDEN_FROM_BEAM` nor `hide` (unless it is imported already);
    those stay importable after."""
    for name in SKIPPED_MODULES:
        sys.modules.setdefault(name, None)
    hidden = [name for name in (*HIDDEN_FROM_BEAM, *hide) if name not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))
    try:
        import apache_beam  # noqa: F401 - imported here for the hiding to apply
    finally:
        for name in hidden:
            del sys.modules[name]


def runner_flag(beam_args: list[str]) -> str | None:
    """The value of `--runner` among Beam's flags (the last one wins, as in argparse)."""
    runner = None
    for i, arg in enumerate(beam_args):
        if arg == "--runner" and i + 1 < len(beam_args):
            runner = beam_args[i + 1]
        elif arg.startswith("--runner="):
            runner = arg.split("=", 1)[1]
    return runner


def skip_optional_imports_for_local_run(beam_args: list[str], argv: list[str]) -> None:
    """`skip_optional_imports` when the job runs locally (no `--runner`, or a local one) and
    Beam is not imported yet, hiding `REMOTE_FILESYSTEMS` too when no argument of `argv` (the
    whole command line) names a remote path. A process that already imported Beam (a test
    session, a notebook) may go on to run a job elsewhere, and is left as it is, but gets
    the remote filesystems an earlier local job hid when this one names a remote path (for
    any other job naming one, Beam's own import loads them, so that call does nothing)."""
    runner = runner_flag(beam_args)
    remote = names_remote_path(argv)
    if "apache_beam" not in sys.modules and (runner is None or runner in LOCAL_RUNNERS):
        skip_optional_imports(hide=() if remote else REMOTE_FILESYSTEMS)
    elif remote:
        load_remote_filesystems()
