"""Split loading: formats, field mapping, families, selection, errors; then every real task."""

import json
import os
import re
import sys
import types
from pathlib import Path

import pytest
import yaml

from algrid.data import check_split_spec, check_tasks, load_split, remove_overlap, task_split_spec
from algrid.errors import ConfigError, DataError
from conftest import require_data

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("ALGRID_DATA_ROOT", REPO.parent / "shared" / "data"))


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def jsonl(tmp_path: Path, rows: list, name: str = "rows.jsonl") -> str:
    return write(tmp_path, name, "".join(json.dumps(r) + "\n" for r in rows))


def load(spec: dict) -> list[dict]:
    return load_split(spec, key="tasks.t.splits.pool")


def error_of(spec: dict, kind=DataError) -> str:
    with pytest.raises(kind) as caught:
        load(spec)
    return str(caught.value)


# ---- formats and field mapping


def test_jsonl_ids_extras_and_dotted_fields(tmp_path):
    path = jsonl(tmp_path, [{"q": {"text": " What? "}, "a": "x", "src": "s1"},
                            {"q": {"text": "Why?"}, "a": "y", "src": "s2"}])
    rows = load({"family": "instruction", "path": path, "fields": {"input": "q.text", "target": "a", "from": "src"}})
    assert rows == [
        {"id": "rows-0", "input": "What?", "target": "x", "meta": {"from": "s1"}},
        {"id": "rows-1", "input": "Why?", "target": "y", "meta": {"from": "s2"}},
    ]


def test_json_records_path_list_index_and_id_field(tmp_path):
    doc = {"data": {"examples": [{"key": 7, "sQuestion": "1+1?", "lSolutions": [2.0]},
                                 {"key": 9, "sQuestion": "3*3?", "lSolutions": ["9.50"]}]}}
    path = write(tmp_path, "set.json", json.dumps(doc, indent=2))
    rows = load({"family": "math", "path": path, "records": "data.examples",
                 "fields": {"id": "key", "input": "sQuestion", "target": "lSolutions.0"}})
    assert [(r["id"], r["target"]) for r in rows] == [("7", "2"), ("9", "9.5")]


def test_csv_with_header_and_quoted_comma(tmp_path):
    path = write(tmp_path, "reviews.csv", 'text,label\n"good, really",1\nbad,0\n')
    rows = load({"family": "classification", "path": path, "fields": {"input": "text", "target": "label"},
                 "labels": {0: "negative", 1: "positive"}})
    assert [(r["input"], r["target"]) for r in rows] == [("good, really", "positive"), ("bad", "negative")]
    assert rows[0]["choices"] == ["negative", "positive"]


def test_tsv_without_header_bare_quotes_and_unescape(tmp_path):
    path = write(tmp_path, "cot.tsv", 'say "hi"\\nOptions:\\n- yes\tyes\tbecause\n2 + 2?\t4\tadd\n')
    rows = load({"family": "instruction", "path": path, "header": False, "unescape": True,
                 "fields": {"input": "0", "target": "1", "rationale": "2"}})
    assert rows[0]["input"] == 'say "hi"\nOptions:\n- yes'
    assert rows[1] == {"id": "cot-1", "input": "2 + 2?", "target": "4", "meta": {"rationale": "add"}}


def test_joined_input_fields(tmp_path):
    path = jsonl(tmp_path, [{"Body": "Tom has 3 apples.", "Question": "How many?", "Answer": 3.0}])
    rows = load({"family": "math", "path": path, "fields": {"input": ["Body", "Question"], "target": "Answer"}})
    assert rows[0]["input"] == "Tom has 3 apples. How many?"
    assert rows[0]["target"] == "3"


def test_labels_as_list_of_verbalisers(tmp_path):
    path = write(tmp_path, "news.tsv", "a story\tSports\nanother\tWorld\n")
    rows = load({"family": "classification", "path": path, "header": False,
                 "fields": {"input": "0", "target": "1"}, "labels": ["World", "Sports"]})
    assert [r["target"] for r in rows] == ["Sports", "World"]
    assert rows[0]["choices"] == ["World", "Sports"]


# ---- families


def test_gsm8k_answer_parsing(tmp_path):
    answer = "She sold 48/2 = <<48/2=24>>24 clips.\nIn all $<<48+24=72>>72.\n#### 1,072.0"
    path = jsonl(tmp_path, [{"question": "How many?", "answer": answer}])
    row = load({"family": "math", "path": path, "answer": "gsm8k",
                "fields": {"input": "question", "target": "answer"}})[0]
    assert row["target"] == "1072"
    assert row["meta"]["rationale"] == "She sold 48/2 = 24 clips.\nIn all $72."


def test_math_rationale_drops_final_answer_line(tmp_path):
    path = jsonl(tmp_path, [{"q": "x?", "a": "5", "cot": "2+3=5\n#### 5"}])
    row = load({"family": "math", "path": path, "fields": {"input": "q", "target": "a", "rationale": "cot"}})[0]
    assert row["meta"]["rationale"] == "2+3=5"


def test_multichoice_choices_and_targets(tmp_path):
    rows = [
        {"q": {"stem": "Pick", "choices": [{"text": "red"}, {"text": "blue"}]}, "key": "B"},
        {"q": {"stem": "Pick", "choices": [{"text": "A)red"}, {"text": "(B) blue"}]}, "key": "(A)"},
        {"q": {"stem": "Pick", "choices": [{"text": "red"}, {"text": "blue"}]}, "key": "Blue"},
    ]
    got = load({"family": "multichoice", "path": jsonl(tmp_path, rows),
                "fields": {"input": "q.stem", "choices": "q.choices.*.text", "target": "key"}})
    assert [r["target"] for r in got] == ["B", "A", "B"]
    assert all(r["choices"] == ["red", "blue"] and r["input"] == "Pick" for r in got)


def test_package_source_reasoning_gym():
    rows = load({"family": "math", "source": "package", "package": "reasoning_gym", "dataset": "gsm_symbolic",
                 "size": 2, "seed": 5,
                 "fields": {"input": "question", "target": "answer", "rationale": "metadata.answer_cot"}})
    assert [r["id"] for r in rows] == ["gsm_symbolic-s5-0", "gsm_symbolic-s5-1"]
    assert all(r["target"].lstrip("-").replace(".", "").isdigit() for r in rows)
    assert all(r["meta"]["rationale"] and "####" not in r["meta"]["rationale"] for r in rows)


def test_hf_data_files_read_through_datasets_as_the_local_file(tmp_path, hf_cache):
    doc = {"examples": [{"input": "x", "target": 0.6666666666666666}, {"input": "y", "target": 2}]}
    path = write(tmp_path, "set.json", json.dumps(doc, indent=1))
    local = load({"family": "math", "path": path, "records": "examples"})
    hub = load({"family": "math", "source": "hf", "data_files": path, "records": "examples"})
    assert hub == local  # datasets' json builder would round the float to 10 digits
    assert [(r["id"], r["target"]) for r in hub] == [("set-0", "0.6666666666666666"), ("set-1", "2")]


@pytest.mark.parametrize("spec, key", [
    ({"source": "hf", "split": "train"}, "k.name"),
    ({"source": "hf", "name": "a/b", "data_files": "x.json"}, "k.name"),
    ({"source": "hf", "name": "a/b"}, "k.split"),
    ({"source": "hf", "name": "a/b", "split": "test", "records": "examples"}, "k.records"),
    ({"source": "hf", "data_files": "https://h/x.txt"}, "k.format"),
    ({"source": "hf", "data_files": "https://h/x.json", "split": "test"}, "k.split"),
    ({"source": "hf", "data_files": ["a.json"]}, "k.data_files"),
])
def test_hf_spec_errors_name_the_key(spec, key):
    with pytest.raises(ConfigError, match=re.escape(f"'{key}'")):
        check_split_spec({"family": "bbh", **spec}, key="k")


def test_hf_source_without_datasets_names_the_key(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import fails
    spec = {"family": "bbh", "source": "hf", "name": "lukaemon/bbh", "split": "test"}
    assert "tasks.t.splits.pool.source" in error_of(spec, ConfigError)


# ---- selection


def numbered(tmp_path: Path, n: int, name: str = "n.jsonl") -> str:
    return jsonl(tmp_path, [{"input": f"question {i}", "target": str(i)} for i in range(n)], name)


def test_limit_is_a_seeded_sample_in_source_order(tmp_path):
    spec = {"family": "math", "path": numbered(tmp_path, 50), "limit": 10, "seed": 3}
    first, again = load(spec), load(spec)
    assert first == again and len(first) == 10
    positions = [int(r["id"].split("-")[1]) for r in first]
    assert positions == sorted(positions) and positions != list(range(10))
    assert [r["id"] for r in load({**spec, "seed": 4})] != [r["id"] for r in first]


def test_limit_first_skip_and_more_than_available(tmp_path):
    path = numbered(tmp_path, 20)
    assert [r["id"] for r in load({"family": "math", "path": path, "limit": 3, "sample": "first"})] == [
        "n-0", "n-1", "n-2"]
    rest = load({"family": "math", "path": path, "skip": 17})
    assert [r["id"] for r in rest] == ["n-17", "n-18", "n-19"]
    assert len(load({"family": "math", "path": path, "limit": 500})) == 20


def test_sources_are_concatenated_with_inherited_keys(tmp_path):
    a = numbered(tmp_path, 5, "a.jsonl")
    b = numbered(tmp_path, 5, "b.jsonl")
    spec = {"family": "math", "fields": {"input": "input", "target": "target"}, "limit": 6, "sample": "first",
            "sources": [{"path": a, "skip": 3}, {"path": b, "limit": 2, "sample": "first"}]}
    assert [r["id"] for r in load(spec)] == ["a-3", "a-4", "b-0", "b-1"]
    same_stem = {"family": "math", "sources": [{"path": a}, {"path": a}]}
    assert "id_prefix" in error_of(same_stem, ConfigError)


def test_remove_overlap_compares_normalised_inputs():
    pool = [{"id": "p0", "input": "What  is 2+2?"}, {"id": "p1", "input": "new"}, {"id": "p2", "input": "Kept"}]
    fewshot = [{"id": "f0", "input": "what is 2+2?"}]
    evals = [{"id": "e0", "input": " NEW "}]
    assert [r["id"] for r in remove_overlap(pool, fewshot, evals)] == ["p2"]
    assert remove_overlap(pool) == pool


# ---- errors name file:line and the problem


def test_malformed_json_line(tmp_path):
    path = write(tmp_path, "bad.jsonl", '{"input": "a", "target": "b"}\n{"input": "a",\n')
    message = error_of({"family": "bbh", "path": path})
    assert f"{path}:2:" in message and "malformed JSON" in message


def test_undecodable_task_file_names_its_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"input": "a", "target": "b"}\n{"input": "caf\xe9", "target": "b"}\n')
    message = error_of({"family": "bbh", "path": str(path)})
    assert f"{path}:2:" in message and "not UTF-8" in message


def test_missing_field_names_field_and_keys(tmp_path):
    path = jsonl(tmp_path, [{"question": "q", "answer": "1"}, {"question": "q"}])
    message = error_of({"family": "instruction", "path": path, "fields": {"input": "question", "target": "answer"}})
    assert f"{path}:2:" in message and "'answer'" in message and "question" in message


def test_missing_nested_field_in_json_names_its_line(tmp_path):
    doc = {"examples": [{"q": {"stem": "a"}, "t": "x"}, {"q": {"text": "b"}, "t": "y"}]}
    path = write(tmp_path, "nested.json", json.dumps(doc, indent=2))
    message = error_of({"family": "bbh", "path": path, "records": "examples",
                        "fields": {"input": "q.stem", "target": "t"}})
    starts = [i + 1 for i, text in enumerate(json.dumps(doc, indent=2).splitlines()) if text == "    {"]
    line = starts[1]  # the second record's "{"
    assert f"{path}:{line}:" in message and "q.stem" in message and "text" in message


def test_empty_target(tmp_path):
    path = write(tmp_path, "e.tsv", "input\ttarget\nq1\tok\nq2\t  \n")
    message = error_of({"family": "bbh", "path": path})
    assert f"{path}:3:" in message and "empty target" in message


def test_unknown_label(tmp_path):
    path = write(tmp_path, "l.tsv", "sentence\tlabel\nfine\t1\nodd\t7\n")
    message = error_of({"family": "classification", "path": path, "fields": {"input": "sentence", "target": "label"},
                        "labels": {0: "negative", 1: "positive"}})
    assert f"{path}:3:" in message and "unknown label '7'" in message and "0, 1" in message


def test_gsm8k_answer_without_separator(tmp_path):
    path = jsonl(tmp_path, [{"question": "q", "answer": "it is 5"}])
    message = error_of({"family": "math", "path": path, "answer": "gsm8k",
                        "fields": {"input": "question", "target": "answer"}})
    assert f"{path}:1:" in message and "'####'" in message


def test_non_numeric_math_target(tmp_path):
    path = jsonl(tmp_path, [{"input": "q", "target": "five"}])
    assert "not a number" in error_of({"family": "math", "path": path})


def test_multichoice_target_out_of_range(tmp_path):
    path = jsonl(tmp_path, [{"q": "q", "opts": ["a", "b"], "t": "C"}])
    fields = {"input": "q", "choices": "opts", "target": "t"}
    message = error_of({"family": "multichoice", "path": path, "fields": fields})
    assert f"{path}:1:" in message and "'C'" in message


def test_empty_file_and_header_only(tmp_path):
    assert "empty" in error_of({"family": "bbh", "path": write(tmp_path, "e.jsonl", "\n")})
    assert "no data rows" in error_of({"family": "bbh", "path": write(tmp_path, "h.tsv", "input\ttarget\n")})


def test_wrong_column_count(tmp_path):
    path = write(tmp_path, "c.tsv", "a\tb\nc\n")
    message = error_of({"family": "bbh", "path": path, "header": False, "fields": {"input": "0", "target": "1"}})
    assert f"{path}:2:" in message and "1 columns, expected 2" in message


def test_json_lines_in_a_json_file_hint(tmp_path):
    path = jsonl(tmp_path, [{"input": "a", "target": "b"}] * 2, name="lines.json")
    message = error_of({"family": "bbh", "path": path})
    assert f"{path}:2:" in message and "format: jsonl" in message


def test_duplicate_id_field(tmp_path):
    path = jsonl(tmp_path, [{"id": 1, "input": "a", "target": "b"}, {"id": 1, "input": "c", "target": "d"}])
    message = error_of({"family": "bbh", "path": path, "fields": {"id": "id", "input": "input", "target": "target"}})
    assert f"{path}:2:" in message and "duplicate id '1'" in message


@pytest.mark.parametrize(("spec", "key"), [
    ({"family": "bbh", "source": "web", "path": "x"}, "k.source"),
    ({"family": "bbh", "path": "x.jsonl", "limt": 3}, "k.limt"),
    ({"path": "x.jsonl"}, "k.family"),
    ({"family": "bbh", "path": "{data_root}/none.jsonl"}, "k.path"),
    ({"family": "bbh", "path": "x.parquet"}, "k.format"),
    ({"family": "classification", "path": "x.jsonl"}, "k.labels"),
    ({"family": "classification", "path": "x.jsonl", "labels": {1: True}}, "k.labels"),
    ({"family": "multichoice", "path": "x.jsonl"}, "k.fields.choices"),
    ({"family": "bbh", "path": "x.jsonl", "limit": 0}, "k.limit"),
    ({"family": "bbh", "path": "x.jsonl", "sample": "last"}, "k.sample"),
    ({"family": "bbh", "path": "x.jsonl", "answer": "gsm8k"}, "k.answer"),
    ({"family": "math", "source": "package", "package": "reasoning_gym", "dataset": "gsm_symbolic"}, "k.size"),
    ({"family": "bbh", "source": "hf", "name": "x"}, "k.split"),
    ({"family": "bbh", "path": "x.jsonl", "records": "examples"}, "k.records"),
    ({"family": "bbh", "sources": []}, "k.sources"),
    ({"family": "bbh", "sources": [{"path": "x.jsonl", "sample": "last"}]}, "k.sources[0].sample"),
])
def test_check_split_spec_names_the_key(tmp_path, monkeypatch, spec, key):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.jsonl").write_text('{"input": "a", "target": "b"}\n')
    with pytest.raises(ConfigError) as caught:
        check_split_spec(spec, key="k", data_root=tmp_path)
    assert str(caught.value).startswith(f"config key '{key}'")


@pytest.mark.parametrize(("change", "key"), [
    ({"id": "Bad_Id"}, "tasks.Bad_Id"),
    ({"metric": "exact"}, "tasks.t.metric"),
    ({"splits": {"pool": {"path": "{data_root}/x.jsonl"}}}, "tasks.t.splits"),
    ({"prompt_file": "{data_root}/missing.txt"}, "tasks.t.prompt_file"),
    ({"hf_splits": {"pool": {"source": "hf", "name": "x"}}}, "tasks.t.hf_splits.pool.split"),
    ({"notes": "x"}, "tasks.t.notes"),
])
def test_check_tasks_names_the_key(tmp_path, change, key):
    (tmp_path / "x.jsonl").write_text('{"input": "a", "target": "b"}\n')
    split = {"path": "{data_root}/x.jsonl"}
    task = {"family": "bbh", "metric": "bbh", "splits": {"pool": split, "eval": split}}
    check_tasks({"t": task}, data_root=tmp_path)
    task_id = change.pop("id", "t")
    with pytest.raises(ConfigError) as caught:
        check_tasks({task_id: {**task, **change}}, data_root=tmp_path)
    assert str(caught.value).startswith(f"config key '{key}'")


def test_data_root_placeholder(tmp_path):
    (tmp_path / "sub").mkdir()
    numbered(tmp_path / "sub", 2)
    rows = load_split({"family": "math", "path": "{data_root}/sub/n.jsonl"}, key="k", data_root=tmp_path)
    assert len(rows) == 2


# ---- the real tasks in config/tasks.yaml

TASKS = yaml.safe_load((REPO / "config" / "tasks.yaml").read_text())["tasks"]
LIMITS = {"pool": 2000, "eval": 150, "fewshot": 8, "dev": 100}


def test_registry_ids_and_coverage():
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", task_id) for task_id in TASKS)
    assert sum(t.startswith("bbh-") for t in TASKS) == 27
    assert sum(t.startswith("flan-cot-") for t in TASKS) == 7
    assert {"gsm8k", "gsm-symbolic", "multiarith", "addsub", "singleeq", "svamp", "sst2", "agnews",
            "commonsenseqa", "aqua", "strategyqa", "flan-cot"} <= set(TASKS)


@pytest.fixture(scope="module")
def real_splits() -> dict:
    require_data()
    check_tasks(TASKS, data_root=DATA_ROOT)
    return {(task_id, split): load_split(task_split_spec(task, split), key=f"tasks.{task_id}.splits.{split}",
                                         data_root=DATA_ROOT)
            for task_id, task in TASKS.items() for split in task["splits"]}


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_real_task_loads(real_splits, task_id):
    task = TASKS[task_id]
    for split in task["splits"]:
        rows = real_splits[task_id, split]
        assert 0 < len(rows) <= LIMITS[split], split
        assert len({r["id"] for r in rows}) == len(rows)
        assert all(r["input"].strip() and r["target"].strip() for r in rows)
        for row in rows:
            _check_family(task["family"], row)
    ids = {split: {r["id"] for r in real_splits[task_id, split]} for split in task["splits"]}
    if task["splits"]["pool"].get("source") != "package":  # generated splits are told apart by input
        assert not ids["pool"] & ids["eval"] and not ids["pool"] & ids.get("fewshot", set())


def _check_family(family: str, row: dict) -> None:
    if family == "math":
        assert re.fullmatch(r"-?\d+(\.\d*[1-9])?", row["target"]), row
    elif family == "classification":
        assert row["target"] in row["choices"], row
    elif family == "multichoice":
        assert len(row["choices"]) >= 2 and all(c.strip() for c in row["choices"]), row
        assert row["target"] in "ABCDEFGH"[: len(row["choices"])], row
    else:
        assert "choices" not in row


def test_disjoint_specs_by_file_range_and_generator_offset(tmp_path):
    from algrid.specs import check_disjoint

    keys = ("t.splits.dev", "t.splits.eval")
    first = {"family": "math", "path": "x.jsonl", "sample": "first"}
    check_disjoint({**first, "limit": 100}, {**first, "skip": 100}, keys=keys, data_root=tmp_path)
    check_disjoint({**first, "path": "y.jsonl"}, first, keys=keys, data_root=tmp_path)
    with pytest.raises(ConfigError, match="t.splits.dev.*may share rows with t.splits.eval"):
        check_disjoint({**first, "limit": 101}, {**first, "skip": 100}, keys=keys, data_root=tmp_path)
    with pytest.raises(ConfigError, match="may share rows"):  # a random sample may take any row after skip
        check_disjoint({"family": "math", "path": "x.jsonl", "limit": 5}, {**first, "skip": 100}, keys=keys,
                       data_root=tmp_path)
    gen = {"family": "math", "source": "package", "package": "reasoning_gym", "dataset": "d", "size": 50}
    check_disjoint({**gen, "seed": 1000}, {**gen, "seed": 1050}, keys=keys, data_root=tmp_path)
    with pytest.raises(ConfigError, match="generator seeds at least a split size apart"):
        check_disjoint({**gen, "seed": 1000}, {**gen, "seed": 1049}, keys=keys, data_root=tmp_path)


# ---- the same tasks through Hugging Face datasets (data_source: hub)

GH = "https://raw.githubusercontent.com"
# each pinned source of an hf_splits data_files URL -> the local copy of that repository's files (SOURCES.md)
MIRRORS = {
    f"{GH}/kojima-takeshi188/zero_shot_cot/5ef330fcdeec0cd26aee27943504f91f8ec1c33c/dataset/": "arith_cot/",
    f"{GH}/forest-snow/alps/3c7ef2c98249fc975a897b27f275695f97d5b7a9/data/SST-2/": "sst2/",
    f"{GH}/forest-snow/alps/3c7ef2c98249fc975a897b27f275695f97d5b7a9/data/agnews/": "agnews/",
    f"{GH}/google-research/FLAN/e9e4ec6e2701182c7a91af176f705310da541277/flan/v2/cot_data/": "flan_cot/",
    f"{GH}/suzgunmirac/BIG-Bench-Hard/9ee07bd481feebf959a6b59d61ea57bdcf30964d/bbh/": "bbh/bbh/",
    f"{GH}/suzgunmirac/BIG-Bench-Hard/9ee07bd481feebf959a6b59d61ea57bdcf30964d/cot-prompts/": "bbh/cot-prompts/",
    f"{GH}/eladsegal/strategyqa/1ba1e97452e189569357876f2854b01357ffbe37/data/strategyqa/": "strategyqa/",
    f"{GH}/yizhongw/self-instruct/0b26ccaa415992100fa32df62d41b994cf928e23/human_eval/": "self_instruct/",
}
HUB_IDS = {"openai/gsm8k", "tau/commonsense_qa", "deepmind/aqua_rat"}


@pytest.fixture(scope="module")
def hf_cache(tmp_path_factory):
    import datasets

    old = datasets.config.HF_DATASETS_CACHE
    datasets.config.HF_DATASETS_CACHE = tmp_path_factory.mktemp("hf-datasets")
    yield
    datasets.config.HF_DATASETS_CACHE = old


def hub_specs(task_id: str) -> dict:
    from algrid.tasks import for_source

    task = for_source({task_id: TASKS[task_id]}, "hub")[task_id]
    return {split: task_split_spec(task, split) for split in task["splits"]}


def local_copy(url: str) -> str:
    prefix = next(p for p in MIRRORS if url.startswith(p))
    return str(DATA_ROOT / MIRRORS[prefix] / url[len(prefix):])


def swap(spec: dict, change) -> dict:
    spec = change(dict(spec))
    if "sources" in spec:
        spec["sources"] = [swap(inner, change) for inner in spec["sources"]]
    return spec


def with_local_files(spec: dict) -> dict:
    return swap(spec, lambda s: s | {"data_files": local_copy(s["data_files"])} if "data_files" in s else s)


def test_hub_specs_cover_every_task_that_reads_files():
    for task_id, task in TASKS.items():
        generated = all(spec.get("source") == "package" for spec in task["splits"].values())
        assert generated != ("hf_splits" in task), task_id  # reasoning-gym tasks need none
        if generated:
            continue
        assert set(task["hf_splits"]) == set(task["splits"]), task_id
        for split, spec in task["hf_splits"].items():  # for_source carries the splits' selection keys over
            keys = ("skip", "limit", "sample", "seed")
            assert {k: spec.get(k) for k in keys} == {k: task["splits"][split].get(k) for k in keys}, task_id
        assert ("prompt_file" in task) == ("hf_prompt_file" in task), task_id
        for spec in hub_specs(task_id).values():
            for inner in spec.get("sources", [spec]):
                assert spec["source"] == "hf"
                assert inner.get("name") in HUB_IDS or any(inner["data_files"].startswith(p) for p in MIRRORS)


FILE_TASKS = sorted(t for t in TASKS if "hf_splits" in TASKS[t]
                    and not any(s.get("name") for s in TASKS[t]["hf_splits"].values()))


@pytest.mark.parametrize("task_id", FILE_TASKS)
def test_hub_file_specs_give_the_local_rows(real_splits, hf_cache, task_id):
    """The pinned files through real datasets (from their local copies): the local route's rows and ids."""
    for split, spec in hub_specs(task_id).items():
        rows = load_split(with_local_files(spec), key=f"tasks.{task_id}.hf_splits.{split}", data_root=DATA_ROOT)
        assert rows == real_splits[task_id, split], split


def test_hub_prompt_files_through_datasets(tmp_path, hf_cache):
    from algrid.tasks import prepare_prompt

    for task_id in [t for t in TASKS if "hf_prompt_file" in TASKS[t]][:3]:
        out = tmp_path / f"{task_id}.txt"
        prepare_prompt(local_copy(TASKS[task_id]["hf_prompt_file"]), out)
        assert out.read_bytes() == Path(TASKS[task_id]["prompt_file"].replace("{data_root}", str(DATA_ROOT))).read_bytes()


def _hub_repo(root: Path, configs: dict) -> str:
    """A dataset directory laid out as a Hub repository (parquet per split, README configs), from real rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    card = ["---", "configs:"]
    for config, splits in configs.items():
        card += [f"- config_name: {config}", "  data_files:"]
        for split, rows in splits.items():
            path = root / config / f"{split}-00000-of-00001.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows), path)
            card += [f"  - split: {split}", f"    path: {config}/{split}-*.parquet"]
    (root / "README.md").write_text("\n".join(card + ["---", ""]))
    return str(root)


def _jsonl_rows(path: str) -> list[dict]:
    return [json.loads(line) for line in (DATA_ROOT / path).read_text().splitlines() if line.strip()]


def _csqa_hub_row(row: dict) -> dict:  # tau/commonsense_qa's columns
    q = row["question"]
    return {"id": row["id"], "question": q["stem"], "question_concept": q["question_concept"],
            "choices": {"label": [c["label"] for c in q["choices"]], "text": [c["text"] for c in q["choices"]]},
            "answerKey": row["answerKey"]}


HUB_LAYOUTS = {  # Hub id -> its configs and splits, built from the local files the Hub rows equal
    "openai/gsm8k": lambda: {"main": {"train": _jsonl_rows("gsm8k/train.jsonl"),
                                      "test": _jsonl_rows("gsm8k/test.jsonl")}},
    "tau/commonsense_qa": lambda: {"default": {
        "train": [_csqa_hub_row(r) for r in _jsonl_rows("arith_cot/CommonsenseQA/train_rand_split.jsonl")],
        "validation": [_csqa_hub_row(r) for r in _jsonl_rows("arith_cot/CommonsenseQA/dev_rand_split.jsonl")]}},
    "deepmind/aqua_rat": lambda: {"raw": {"test": _jsonl_rows("arith_cot/AQuA/test.json")}},
}


@pytest.mark.parametrize("task_id", ["gsm8k", "commonsenseqa", "aqua"])
def test_hub_dataset_specs_give_the_local_rows(real_splits, hf_cache, tmp_path, task_id):
    """load_dataset(name, config, split) on a directory shaped like the Hub repository: the local route's rows."""
    name = next(s["name"] for s in TASKS[task_id]["hf_splits"].values())
    repo = _hub_repo(tmp_path / name, HUB_LAYOUTS[name]())
    for split, spec in hub_specs(task_id).items():
        spec = {**spec, "name": repo, **({} if "config" in spec else {"config": "default"})}
        rows = load_split(spec, key=f"tasks.{task_id}.hf_splits.{split}", data_root=DATA_ROOT)
        assert rows == real_splits[task_id, split], split


@pytest.mark.network
@pytest.mark.parametrize("task_id", sorted(t for t in TASKS if "hf_splits" in TASKS[t]))
def test_hub_ids_give_the_local_rows(real_splits, task_id):
    """With internet (`pytest -m network`): each task's real hf_splits and prompt load the local rows."""
    for split, spec in hub_specs(task_id).items():
        rows = load_split(spec, key=f"tasks.{task_id}.hf_splits.{split}", data_root=DATA_ROOT)
        assert rows == real_splits[task_id, split], split
    if "hf_prompt_file" in TASKS[task_id]:
        import datasets

        fetched = Path(datasets.DownloadManager().download(TASKS[task_id]["hf_prompt_file"])).read_bytes()
        assert fetched == Path(local_copy(TASKS[task_id]["hf_prompt_file"])).read_bytes()


def test_hub_config_plans_without_local_files(monkeypatch, tmp_path):
    """data_source: hub checks and plans a grid on a machine with no data_root; BBH prompts come from a rule."""
    from algrid.tasks import for_source
    from conftest import load_common

    common = load_common()
    monkeypatch.setenv("ALGRID_DATA_ROOT", str(tmp_path / "no-data"))
    config = {**yaml.safe_load((REPO / "config" / "defaults.yaml").read_text()), "data_source": "hub"}
    config["tasks"] = for_source(TASKS, "hub")
    config["finetune"] |= {"tasks": ["gsm8k"], "eval_tasks": ["bbh-navigate", "gsm8k"], "models": ["smollm2-135m"],
                           "presets": ["tiny"], "strategies": ["random"], "budgets": [16],
                           "rounds": [1], "seeds": [0]}
    common.check_config(config)
    assert common.prompt_files(config, "bbh-navigate") == ["results/data/bbh-navigate/prompt.txt"]
    assert common.split_inputs(types.SimpleNamespace(task="gsm8k", split="pool"), config)["files"] == []
    config["data_source"] = "local"
    config["tasks"] = TASKS
    with pytest.raises(ConfigError, match=r"tasks\.[a-z0-9-]+\.splits\..*file not found"):
        common.check_config(config)
