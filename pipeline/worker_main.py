"""The process behind each `--workers N` worker: Beam's SDK worker without Beam's optional
integrations.

FnApiRunner starts a worker process as `python -m apache_beam.runners.worker.sdk_worker_main`,
whose `import apache_beam` imports every optional integration that happens to be installed
(pipeline/lean_imports.py). On this machine that was a third of each worker's CPU samples at
20 MB (py-spy, README "Local cores"): the workers start while the launcher waits. So this
entry point marks them missing (as if not installed) before starting Beam's worker.

It also applies `local_memory.release_finished_stages` in the worker, as the launcher does
for its in-process worker. `beam_options.WorkerProcessesRunner` starts workers with it.
"""

from __future__ import annotations

import sys

from pipeline.lean_imports import skip_optional_imports


def _run_worker() -> None:
    from apache_beam.runners.worker import sdk_worker_main

    from pipeline.local_memory import release_finished_stages

    release_finished_stages()
    sdk_worker_main.main(sys.argv)


def main() -> None:
    """A worker (`python -m pipeline.worker_main`), run by the zygote when there is one, or
    the zygote itself (`--zygote SOCKET LAUNCHER_PID`, pipeline/worker_zygote.py)."""
    from pipeline import worker_zygote

    if sys.argv[1:2] == ["--zygote"]:
        worker_zygote.serve(sys.argv[2], int(sys.argv[3]), _run_worker)
        return
    status = worker_zygote.run_in_zygote()
    if status is not None:
        sys.exit(status)
    skip_optional_imports()
    _run_worker()


if __name__ == "__main__":
    main()
