"""Pool scoring in shards (scoring.shard_size): shard ranges, the plan, and a merged file identical to one job's."""

import pytest
import yaml

from algrid.errors import ConfigError
from algrid.shards import shard_ranges
from conftest import DEFAULT_GRID, TINY, planned_jobs, snakemake, workdir

SCORES = "results/scores/two-digit-addition/smollm2-135m/base.parquet"


def test_shard_ranges():
    assert shard_ranges(7, 3, task="t") == [(0, 3), (3, 6), (6, 7)]
    assert shard_ranges(6, 3, task="t") == [(0, 3), (3, 6)]
    assert shard_ranges(7, None, task="t") == [(0, 7)]
    with pytest.raises(ConfigError, match="scoring.shard_size.*tasks.t.splits.pool"):
        shard_ranges(None, 3, task="t")


def _config(wd, shard_size) -> object:
    path = wd / "shards.yaml"  # a 7-row pool; batch_size 1: a row's scores do not depend on its batch
    path.write_text(yaml.safe_dump({"tasks": {"two-digit-addition": {"splits": {"pool": {"size": 7}}}},
                                    "scoring": {"shard_size": shard_size, "batch_size": 1, "max_new_tokens": 4}}))
    return path


def test_sharded_scores_equal_one_jobs_byte_for_byte(tmp_path, model_dir):
    built = {}
    for shard_size in (None, 3):
        wd = workdir(tmp_path / f"shard{shard_size}")
        (wd / "results" / "models").mkdir(parents=True)
        (wd / "results" / "models" / "smollm2-135m").symlink_to(model_dir)
        files = (DEFAULT_GRID, TINY, _config(wd, shard_size))
        plan = planned_jobs(snakemake(wd, "-n", SCORES, configfiles=files))
        full = planned_jobs(snakemake(wd, "-n", configfiles=files))
        if shard_size is None:
            assert plan == {"prepare_dataset": 2, "score_pool_base": 1}
            assert "merge_scores_round" not in full and full["score_pool_round"] == 1  # entropy, round 2 of m2
        else:
            assert plan == {"prepare_dataset": 2, "score_pool_base_shard": 3, "merge_scores_base": 1}
            assert (full["score_pool_round_shard"], full["merge_scores_round"]) == (3, 1)
        snakemake(wd, "-c1", SCORES, configfiles=files)
        built[shard_size] = (wd / SCORES).read_bytes()
    assert built[3] == built[None]
