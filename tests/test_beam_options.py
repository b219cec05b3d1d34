"""`--workers N` and the Beam flags it stands for."""

from __future__ import annotations

import pytest

from core.errors import UserError
from pipeline.beam_options import (
    WorkerProcessesRunner,
    local_runner,
    local_workers,
    make_pipeline_options,
    use_worker_main,
    worker_args,
)
from pipeline.cli import main


def test_workers_is_the_local_runners_multi_processing():
    assert worker_args(None, []) == []
    assert worker_args(1, []) == []
    assert worker_args(3, ["--runner", "FnApiRunner"]) == [
        "--direct_running_mode=multi_processing", "--direct_num_workers=3"]
    options = make_pipeline_options(worker_args(2, [])).get_all_options()
    assert (options["direct_running_mode"], options["direct_num_workers"]) == (
        "multi_processing", 2)


@pytest.mark.parametrize("beam_args, workers", [
    ([], 1),
    (worker_args(3, []), 3),
    (["--direct_num_workers=2"], 1),  # in_memory: FnApiRunner ignores the count
    (["--direct_running_mode=multi_threading", "--direct_num_workers=2"], 2),
    (["--runner", "DataflowRunner", "--direct_running_mode=multi_processing",
      "--direct_num_workers=2"], 1),
])
def test_local_workers_is_the_count_the_local_runner_splits_stages_over(beam_args, workers):
    """It sets how many parts each NSP pool is packed in (transforms/pack_beam.py)."""
    assert local_workers(make_pipeline_options(beam_args)) == workers


def test_worker_processes_start_as_our_entry_point():
    import sys

    import apache_beam as beam
    from apache_beam.transforms.environments import SubprocessSDKEnvironment

    assert isinstance(local_runner(make_pipeline_options(worker_args(2, []))),
                      WorkerProcessesRunner)
    assert local_runner(make_pipeline_options([])) is None
    assert local_runner(make_pipeline_options(["--runner", "DirectRunner",
                                               *worker_args(2, [])])) is None
    command = f"{sys.executable} -m apache_beam.runners.worker.sdk_worker_main"  # FnApiRunner's
    p = beam.Pipeline(runner="FnApiRunner")
    p | beam.Create([1])
    proto = p.to_runner_api(
        default_environment=SubprocessSDKEnvironment.from_command_string(command))
    use_worker_main(proto)
    payloads = {env.payload for env in proto.components.environments.values()}
    assert payloads == {f"{sys.executable} -m pipeline.worker_main".encode()}


@pytest.mark.parametrize("workers, beam_args, message", [
    (0, [], "--workers must be >= 1"),
    (2, ["--runner", "DataflowRunner"], "not DataflowRunner"),
    (2, ["--direct_num_workers=2"], "either --workers or"),
    (1, ["--direct_running_mode", "multi_processing"], "either --workers or"),
])
def test_contradictory_worker_flags_are_refused(workers, beam_args, message):
    with pytest.raises(UserError, match=message):
        worker_args(workers, beam_args)


def test_the_cli_refuses_them_in_one_line(tmp_path, capsys):
    argv = ["clean", "--output", str(tmp_path / "out"), "--workers", "2", "--runner",
            "DataflowRunner"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --workers is for the local runner") and err.count("\n") == 1


def test_workers_read_one_file_in_ranges_unless_told_otherwise():
    from core.config import ReadConfig
    from pipeline.cli import WORKERS_SPLIT_BYTES, build_parser, read_config

    def split(*argv: str) -> int:
        args, _ = build_parser().parse_known_args(["shards", "--output", "o", "--vocab", "v",
                                                   *argv])
        return read_config(args).split_bytes

    assert split() == split("--workers", "1") == ReadConfig.split_bytes
    assert split("--workers", "2") == WORKERS_SPLIT_BYTES < ReadConfig.split_bytes
    assert split("--workers", "2", "--input-split-bytes", "999") == 999


def test_options_build_each_view_once_and_views_share_the_values():
    """Beam calls `view_as` for every applied transform; a cached view must still read and
    write the options' values, and a deep copy (as `beam.Pipeline` makes) must not share
    them."""
    import copy
    import pickle

    from apache_beam.options.pipeline_options import StandardOptions, TypeOptions

    options = make_pipeline_options(["--runner", "FnApiRunner"])
    assert options.view_as(TypeOptions) is options.view_as(TypeOptions)
    assert options.view_as(TypeOptions).pipeline_type_check
    options.view_as(StandardOptions).runner = "DirectRunner"
    assert options.get_all_options()["runner"] == "DirectRunner"

    copied = copy.deepcopy(options)
    copied.view_as(StandardOptions).runner = "FnApiRunner"
    assert options.view_as(StandardOptions).runner == "DirectRunner"
    assert copied.get_all_options()["runner"] == "FnApiRunner"
    assert pickle.loads(pickle.dumps(options)).get_all_options() == options.get_all_options()


def test_a_pickled_copy_drops_the_views_with_beams_impersonation_scrub():
    """Beam's `__getstate__` pickles a scrubbed copy of the values when
    --impersonate_service_account is set; a cached view pickled along would still point at
    the unscrubbed values, so the copy's views must be built anew from the copy."""
    import pickle

    from apache_beam.options.pipeline_options import GoogleCloudOptions, StandardOptions

    options = make_pipeline_options(["--runner", "FnApiRunner",
                                     "--impersonate_service_account", "someone"])
    copied = pickle.loads(pickle.dumps(options))
    assert copied.view_as(GoogleCloudOptions).impersonate_service_account is None
    copied.view_as(StandardOptions).runner = "DirectRunner"
    assert copied.get_all_options()["runner"] == "DirectRunner"
    assert options.view_as(StandardOptions).runner == "FnApiRunner"
