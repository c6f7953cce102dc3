"""code_version: a rule's param that changes exactly when code its script reaches changes."""

import shutil

import pytest

from algrid import codeversion
from conftest import REPO


@pytest.fixture
def scripts(tmp_path, monkeypatch):
    """A copy of scripts/ that the test may edit, with a fresh digest cache."""
    root = tmp_path / "scripts"
    shutil.copytree(REPO / "scripts", root, ignore=shutil.ignore_patterns("__pycache__", ".codeversion.json"))
    monkeypatch.setattr(codeversion, "SCRIPTS", root)
    monkeypatch.setattr(codeversion, "CACHE", root / ".codeversion.json")

    def fresh():
        for fn in (codeversion.code_version, codeversion._files, codeversion._cache):
            fn.cache_clear()
        return codeversion

    yield root, fresh
    fresh()  # later tests must not see this copy's cached paths


def test_code_change_reruns_and_comment_does_not(scripts):
    root, fresh = scripts
    before = fresh().code_version("icl_score")
    assert (root / ".codeversion.json").is_file()  # the parsed files were kept
    module = root / "algrid" / "icl" / "score.py"
    module.write_text(module.read_text() + "\n# a comment only\n")
    assert fresh().code_version("icl_score") == before
    module.write_text(module.read_text() + "\nX = 1\n")
    assert fresh().code_version("icl_score") != before
    other = root / "algrid" / "icl" / "judge.py"  # not reached by icl_score
    after = fresh().code_version("icl_score")
    other.write_text(other.read_text() + "\nY = 2\n")
    assert fresh().code_version("icl_score") == after


def test_cache_gives_the_same_versions_and_survives_a_bad_file(scripts):
    root, fresh = scripts
    scripts_ = ["predict", "train_adapter", "icl_predict", "aggregate"]
    first = [fresh().code_version(s) for s in scripts_]
    assert [fresh().code_version(s) for s in scripts_] == first  # from the cache
    (root / ".codeversion.json").write_text("{not json")
    assert [fresh().code_version(s) for s in scripts_] == first  # a broken cache is rebuilt
    reached = {p.relative_to(root).as_posix() for p in fresh().reached_files("icl_predict")}
    assert {"algrid/icl/predict.py", "algrid/icl/demos.py", "algrid/strategies/kcenter.py"} <= reached
    assert "algrid/icl/summary.py" not in reached
