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
LOCAL_TASKS = sorted(t for t in TASKS if "splits" in TASKS[t])
HUB_ONLY = sorted(t for t in TASKS if "splits" not in TASKS[t])  # seed 000's tasks with no local copy


def test_registry_ids_and_coverage():
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", task_id) for task_id in TASKS)
    assert sum(t.startswith("bbh-") for t in TASKS) == 27
    assert sum(t.startswith("flan-cot-") for t in TASKS) == 7
    assert {"gsm8k", "gsm-symbolic", "multiarith", "addsub", "singleeq", "svamp", "sst2", "agnews",
            "commonsenseqa", "aqua", "strategyqa", "flan-cot"} <= set(TASKS)
    assert HUB_ONLY == ["arc-challenge", "arc-easy", "boolq", "dolly", "hellaswag", "openbookqa", "piqa", "siqa",
                        "super-natural-instructions", "ultrachat", "winogrande"]
    families = {t: (TASKS[t]["family"], TASKS[t]["metric"]) for t in HUB_ONLY}
    assert families["boolq"] == ("classification", "label")
    assert {families[t] for t in ("hellaswag", "arc-easy", "arc-challenge", "winogrande", "piqa", "siqa",
                                  "openbookqa")} == {("multichoice", "choice")}
    assert {families[t] for t in ("dolly", "ultrachat", "super-natural-instructions")} == {("instruction", "text")}


@pytest.fixture(scope="module")
def real_splits() -> dict:
    require_data()
    check_tasks(TASKS, data_root=DATA_ROOT)
    return {(task_id, split): load_split(task_split_spec(task, split), key=f"tasks.{task_id}.splits.{split}",
                                         data_root=DATA_ROOT)
            for task_id, task in TASKS.items() for split in task.get("splits", {})}


@pytest.mark.parametrize("task_id", LOCAL_TASKS)
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
HUB_ONLY_IDS = {"google/boolq", "Rowan/hellaswag", "allenai/ai2_arc", "allenai/winogrande", "baber/piqa",
                "lighteval/siqa", "allenai/openbookqa", "databricks/databricks-dolly-15k",
                "HuggingFaceH4/ultrachat_200k", "Muennighoff/natural-instructions"}


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
    for task_id in HUB_ONLY:  # on the Hub only: Hub datasets, pool and eval
        assert {"pool", "eval"} <= set(TASKS[task_id]["hf_splits"]), task_id
        assert all(spec.get("name") in HUB_ONLY_IDS for spec in hub_specs(task_id).values()), task_id
    for task_id in LOCAL_TASKS:
        task = TASKS[task_id]
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


FILE_TASKS = sorted(t for t in LOCAL_TASKS if "hf_splits" in TASKS[t]
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
@pytest.mark.parametrize("task_id", sorted(t for t in LOCAL_TASKS if "hf_splits" in TASKS[t]))
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


# ---- seed 000's tasks on the Hub only: their specs through real datasets on Hub-shaped local repositories

def _arc_row(id_, question, texts, labels, key):  # allenai/ai2_arc and allenai/openbookqa: choices {text, label}
    return {"id": id_, "question": question, "choices": {"text": texts, "label": labels}, "answerKey": key}


def _obqa_row(id_, stem, key):
    return {"id": id_, "question_stem": stem, "choices": {"text": ["sun", "moon", "rock", "tree"],
                                                          "label": ["A", "B", "C", "D"]}, "answerKey": key}


def _hellaswag_row(ind, label):
    return {"ind": ind, "activity_label": "Removing ice from car", "ctx_a": "Then, the man writes over the snow.",
            "ctx_b": "then", "ctx": "Then, the man writes over the snow. then",
            "endings": [", the man ends.", ", he sprays it.", ", he scrapes the ice.", ", he leaves."],
            "source_id": "activitynet~v_-1IBHYS3L-Y", "split": "train", "split_type": "indomain", "label": label}


def _sni_row(task, i):
    return {"task_name": task, "id": f"{task.split('_')[0]}-{i:032x}", "definition": f"Definition of {task}.",
            "inputs": f"Input {i}", "targets": f"Output {i}"}


def _chat(prompt, reply):  # HuggingFaceH4/ultrachat_200k: prompt, prompt_id, messages (user first)
    return {"prompt": prompt, "prompt_id": f"{abs(hash(prompt)):064x}"[:64],
            "messages": [{"content": prompt, "role": "user"}, {"content": reply, "role": "assistant"},
                         {"content": "Thanks!", "role": "user"}, {"content": "You're welcome.", "role": "assistant"}]}


HUB_ONLY_LAYOUTS = {  # Hub id -> configs -> splits -> rows in the dataset's own columns and types
    "google/boolq": {"default": {
        "train": [{"question": "do iran and afghanistan speak the same language", "answer": True,
                   "passage": "Persian is spoken in Iran and Afghanistan."},
                  {"question": "is the sun a planet", "answer": False, "passage": "The Sun is a star."}],
        "validation": [{"question": "is water wet", "answer": True, "passage": "Water wets surfaces."}]}},
    "Rowan/hellaswag": {"default": {"train": [_hellaswag_row(4, "2"), _hellaswag_row(5, "0")],
                                    "validation": [_hellaswag_row(24, "3")]}},
    "allenai/ai2_arc": {config: {
        "train": [_arc_row("Mercury_7175875", "Which is a metal?", ["wood", "iron", "glass", "paper"],
                           ["A", "B", "C", "D"], "B"),
                  _arc_row("NYSEDREGENTS_2015_4_3", "What melts ice?", ["heat", "cold", "dark", "wind"],
                           ["1", "2", "3", "4"], "1")],
        "test": [_arc_row("Mercury_SC_415702", "Which has five?", ["a", "b", "c", "d", "e"],
                          ["A", "B", "C", "D", "E"], "E"),
                 _arc_row("NYSEDREGENTS_2008_4_12", "Which is living?", ["rock", "water", "tree"],
                          ["1", "2", "3"], "3")]} for config in ("ARC-Easy", "ARC-Challenge")},
    "allenai/winogrande": {"winogrande_xl": {
        "train": [{"sentence": "Ian volunteered to eat Dennis's menudo because _ despised eating intestine.",
                   "option1": "Ian", "option2": "Dennis", "answer": "2"}],
        "validation": [{"sentence": "Sarah was a much better surgeon than Maria so _ always got the easier cases.",
                        "option1": "Sarah", "option2": "Maria", "answer": "2"},
                       {"sentence": "The trophy does not fit in the suitcase because _ is too big.",
                        "option1": "trophy", "option2": "suitcase", "answer": "1"}]}},
    "baber/piqa": {"default": {
        "train": [{"goal": "How do I ready a guinea pig cage?", "sol1": "Use sawdust.", "sol2": "Use jam.",
                   "label": 0}],
        "validation": [{"goal": "To open a jar", "sol1": "Freeze the lid.", "sol2": "Run the lid under hot water.",
                        "label": 1}]}},
    "lighteval/siqa": {"default": {
        "train": [{"context": "Cameron decided to have a barbecue.", "question": "What will Cameron want to do next?",
                   "answerA": "Sleep", "answerB": "Invite friends", "answerC": "Leave", "label": "2"}],
        "validation": [{"context": "Tracy lost her keys.", "question": "How would Tracy feel?",
                        "answerA": "Happy", "answerB": "Bored", "answerC": "Worried", "label": "3"}]}},
    "allenai/openbookqa": {"main": {"train": [_obqa_row("7-980", "The sun is responsible for", "A")],
                                    "test": [_obqa_row("8-376", "The moon reflects light from the", "A"),
                                             _obqa_row("8-377", "Which is hard?", "C")]}},
    "HuggingFaceH4/ultrachat_200k": {"default": {
        "train_sft": [_chat("How do plants make food?", "Plants make food by photosynthesis.")],
        "test_sft": [_chat("What is a prime number?", "A number with exactly two divisors.")]}},
    "Muennighoff/natural-instructions": {"default": {
        "train": [_sni_row("task001_quoref_question_generation", 1), _sni_row("task002_quoref_answer_generation", 2)],
        "test": [_sni_row("task1356_xlsum_title_generation", 3), _sni_row("task641_esnli_classification", 4)]}},
}
DOLLY = [{"instruction": f"Instruction {i}", "context": "Some context." if i % 2 else "",
          "response": f"Response {i}", "category": "open_qa" if i % 2 else "brainstorming"} for i in range(103)]


def _hub_jsonl_repo(root: Path, filename: str, rows: list[dict]) -> str:
    """A Hub repository that holds one jsonl file and a card without configs (databricks-dolly-15k): split train."""
    root.mkdir(parents=True)
    (root / filename).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "README.md").write_text("---\nlicense: cc-by-sa-3.0\n---\n")
    return str(root)


def _mapped(rows: list[dict]) -> list[tuple]:
    return [(r["id"], r["input"], r.get("choices"), r["target"], r["meta"]) for r in rows]


HUB_ONLY_ROWS = {  # task -> split -> (id, input, choices, target, meta) of each mapped row
    "boolq": {
        "pool": [("boolq-train-0", "Persian is spoken in Iran and Afghanistan.\n\ndo iran and afghanistan speak the "
                  "same language", ["yes", "no"], "yes", {}),
                 ("boolq-train-1", "The Sun is a star.\n\nis the sun a planet", ["yes", "no"], "no", {})],
        "eval": [("boolq-validation-0", "Water wets surfaces.\n\nis water wet", ["yes", "no"], "yes", {})]},
    "hellaswag": {
        "pool": [(f"hellaswag-train-{i}", "Removing ice from car: Then, the man writes over the snow. then",
                  [", the man ends.", ", he sprays it.", ", he scrapes the ice.", ", he leaves."], letter, {})
                 for i, letter in ((0, "C"), (1, "A"))],
        "eval": [("hellaswag-validation-0", "Removing ice from car: Then, the man writes over the snow. then",
                  [", the man ends.", ", he sprays it.", ", he scrapes the ice.", ", he leaves."], "D", {})]},
    "arc-easy": {
        "pool": [("Mercury_7175875", "Which is a metal?", ["wood", "iron", "glass", "paper"], "B", {}),
                 ("NYSEDREGENTS_2015_4_3", "What melts ice?", ["heat", "cold", "dark", "wind"], "A", {})],
        "eval": [("Mercury_SC_415702", "Which has five?", ["a", "b", "c", "d", "e"], "E", {}),
                 ("NYSEDREGENTS_2008_4_12", "Which is living?", ["rock", "water", "tree"], "C", {})]},
    "winogrande": {
        "pool": [("winogrande-train-0", "Ian volunteered to eat Dennis's menudo because _ despised eating intestine.",
                  ["Ian", "Dennis"], "B", {})],
        "eval": [("winogrande-validation-0", "Sarah was a much better surgeon than Maria so _ always got the easier "
                  "cases.", ["Sarah", "Maria"], "B", {}),
                 ("winogrande-validation-1", "The trophy does not fit in the suitcase because _ is too big.",
                  ["trophy", "suitcase"], "A", {})]},
    "piqa": {
        "pool": [("piqa-train-0", "How do I ready a guinea pig cage?", ["Use sawdust.", "Use jam."], "A", {})],
        "eval": [("piqa-validation-0", "To open a jar", ["Freeze the lid.", "Run the lid under hot water."], "B", {})]},
    "siqa": {
        "pool": [("siqa-train-0", "Cameron decided to have a barbecue. What will Cameron want to do next?",
                  ["Sleep", "Invite friends", "Leave"], "B", {})],
        "eval": [("siqa-validation-0", "Tracy lost her keys. How would Tracy feel?", ["Happy", "Bored", "Worried"],
                  "C", {})]},
    "openbookqa": {
        "pool": [("7-980", "The sun is responsible for", ["sun", "moon", "rock", "tree"], "A", {})],
        "eval": [("8-376", "The moon reflects light from the", ["sun", "moon", "rock", "tree"], "A", {}),
                 ("8-377", "Which is hard?", ["sun", "moon", "rock", "tree"], "C", {})]},
    "dolly": {
        "eval": [(f"databricks-dolly-15k-train-{i}", f"Instruction {i}" + ("\n\nSome context." if i % 2 else ""),
                  None, f"Response {i}", {"category": "open_qa" if i % 2 else "brainstorming"}) for i in range(100)],
        "pool": [(f"databricks-dolly-15k-train-{i}", f"Instruction {i}" + ("\n\nSome context." if i % 2 else ""),
                  None, f"Response {i}", {"category": "open_qa" if i % 2 else "brainstorming"}) for i in (100, 101, 102)]},
    "ultrachat": {
        "pool": [("ultrachat_200k-train_sft-0", "How do plants make food?", None,
                  "Plants make food by photosynthesis.", {})],
        "eval": [("ultrachat_200k-test_sft-0", "What is a prime number?", None, "A number with exactly two divisors.",
                  {})]},
    "super-natural-instructions": {
        "pool": [(f"natural-instructions-train-{i}", f"Definition of {task}.\n\nInput {i + 1}", None, f"Output {i + 1}",
                  {"task": task}) for i, task in enumerate(["task001_quoref_question_generation",
                                                            "task002_quoref_answer_generation"])],
        "eval": [(f"natural-instructions-test-{i}", f"Definition of {task}.\n\nInput {i + 3}", None, f"Output {i + 3}",
                  {"task": task}) for i, task in enumerate(["task1356_xlsum_title_generation",
                                                            "task641_esnli_classification"])]},
}
HUB_ONLY_ROWS["arc-challenge"] = HUB_ONLY_ROWS["arc-easy"]


@pytest.mark.parametrize("task_id", HUB_ONLY)
def test_hub_only_specs_map_hub_shaped_rows(hf_cache, tmp_path, task_id):
    """Each hub-only task's hf_splits through the real load_dataset(name, config, split) on a directory laid out as
    its Hub repository (parquet per split with the dataset's columns and types; Dolly: its one jsonl file)."""
    name = next(s["name"] for s in TASKS[task_id]["hf_splits"].values())
    assert name in HUB_ONLY_IDS
    if name == "databricks/databricks-dolly-15k":
        repo = _hub_jsonl_repo(tmp_path / name, "databricks-dolly-15k.jsonl", DOLLY)
    else:
        repo = _hub_repo(tmp_path / name, HUB_ONLY_LAYOUTS[name])
    for split, spec in hub_specs(task_id).items():
        spec = {**spec, "name": repo, **({} if "config" in spec else {"config": "default"})}
        rows = load_split(spec, key=f"tasks.{task_id}.hf_splits.{split}", data_root=tmp_path / "no-data")
        prefix = name.rsplit("/", 1)[-1]  # ids as from the Hub id: "<name>-<split>-<row>" (here the directory name)
        assert _mapped(rows) == [(i.replace(prefix, Path(repo).name, 1), *rest)
                                 for i, *rest in HUB_ONLY_ROWS[task_id][split]], split
        for row in rows:
            _check_family(TASKS[task_id]["family"], row)


def test_choice_labels_and_choice_fields(tmp_path):
    path = jsonl(tmp_path, [{"q": "Q?", "o1": "x", "o2": "y", "a": "2"},
                            {"q": "R?", "o1": "x", "o2": "y", "a": 1}])
    spec = {"family": "multichoice", "path": path, "fields": {"input": "q", "choices": ["o1", "o2"], "target": "a"},
            "choice_labels": ["1", "2"]}
    assert [(r["choices"], r["target"]) for r in load(spec)] == [(["x", "y"], "B"), (["x", "y"], "A")]
    path = jsonl(tmp_path, [{"q": "Q?", "c": {"text": ["x", "y", "z"], "label": ["1", "2", "3"]}, "a": "3"}], "arc.jsonl")
    arc = {"family": "multichoice", "path": path, "fields": {"input": "q", "choices": "c.text", "target": "a"},
           "choice_labels": "c.label"}
    assert load(arc)[0]["target"] == "C"
    bad = jsonl(tmp_path, [{"q": "Q?", "c": {"text": ["x", "y"], "label": ["1", "2"]}, "a": "4"}], "bad.jsonl")
    assert "target '4' (field 'a') is not the label of one of the 2 options (choice_labels: 1, 2)" in error_of(
        {**arc, "path": bad})
    with pytest.raises(ConfigError, match="k.choice_labels.*only multichoice"):
        check_split_spec({"family": "classification", "path": path, "labels": ["a"], "choice_labels": ["1"]}, key="k")
    with pytest.raises(ConfigError, match="k.choice_labels"):
        check_split_spec({**arc, "choice_labels": []}, key="k")


def test_hub_only_tasks_need_data_source_hub():
    """With data_source local, a grid or category that names a hub-only task stops with one line naming it."""
    from algrid.config import check_config, check_icl_category
    from algrid.tasks import for_source
    from conftest import load_common

    common = load_common()
    config = {**yaml.safe_load((REPO / "config" / "defaults.yaml").read_text()), "tasks": TASKS}
    config["icl"] = {**config["icl"], "categories": {**config["icl"]["categories"], "multichoice": ["aqua", "piqa"]}}
    check_icl_category(config, "math")  # the other categories plan as before
    for category in ("multichoice", "all_tasks"):
        with pytest.raises(ConfigError, match=r"^config key 'icl\.categories\.multichoice': task 'piqa' is on the "
                           r"Hugging Face Hub only .*needs data_source: hub") as caught:
            check_icl_category(config, category)
        assert "\n" not in str(caught.value)
    for grid, key in (({"icl": {**config["icl"], "tasks": ["sst2", "boolq"], "models": ["smollm2-135m"],
                                "strategies": ["random"], "shots": [2], "seeds": [0]}}, "icl.tasks"),
                      ({"finetune": {**config["finetune"], "tasks": ["gsm8k"], "eval_tasks": ["dolly"]}},
                       "finetune.eval_tasks")):
        with pytest.raises(ConfigError, match=rf"'{re.escape(key)}': task '(boolq|dolly)' .*needs data_source: hub"):
            common.check_config({**config, **grid})
    hub = {**config, "data_source": "hub", "tasks": for_source(TASKS, "hub")}
    check_icl_category(hub, "all_tasks")
    assert hub["tasks"]["piqa"]["splits"]["eval"]["name"] == "baber/piqa"


SNI_TEST_TASKS = ("https://raw.githubusercontent.com/allenai/natural-instructions/"
                  "b00871c954282e35d14de77c546918ee8b9d90da/splits/default/test_tasks.txt")


@pytest.mark.network
@pytest.mark.parametrize("task_id", HUB_ONLY)
def test_hub_only_ids_load(task_id):
    """With internet (`pytest -m network`): each hub-only task's real Hub ids, configs and splits load and map."""
    splits = {split: load_split(spec, key=f"tasks.{task_id}.hf_splits.{split}", data_root=DATA_ROOT)
              for split, spec in hub_specs(task_id).items()}
    for split, rows in splits.items():
        assert 0 < len(rows) <= LIMITS[split], split
        assert len({r["id"] for r in rows}) == len(rows)
        for row in rows:
            _check_family(TASKS[task_id]["family"], row)
    assert len(splits["eval"]) == 100 and not {r["id"] for r in splits["pool"]} & {r["id"] for r in splits["eval"]}
    if task_id == "super-natural-instructions":  # eval: the default split's test tasks; pool: none of them
        import datasets

        listed = Path(datasets.DownloadManager().download(SNI_TEST_TASKS)).read_text().split()
        assert len(listed) == 119
        assert {r["meta"]["task"] for r in splits["eval"]} <= set(listed)
        assert not {r["meta"]["task"] for r in splits["pool"]} & set(listed)


@pytest.mark.workflow
def test_hub_only_task_prepares_through_the_workflow(tmp_path):
    """data_source hub, no data_root: Snakemake prepares a hub-only task's fewshot, pool and eval files from its
    hf_splits (PIQA's, pointed at a Hub-shaped directory): fewshot = the first 8 pool rows, never in pool or eval."""
    import subprocess

    repo = _hub_repo(tmp_path / "baber" / "piqa", {"default": {
        "train": [{"goal": f"How do I do thing {i}?", "sol1": f"Way one {i}.", "sol2": f"Way two {i}.", "label": i % 2}
                  for i in range(12)],
        "validation": [{"goal": f"To finish task {i}", "sol1": "Freeze it.", "sol2": "Heat it.", "label": 1}
                       for i in range(3)]}})
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "config").symlink_to(REPO / "config")
    grid = wd / "grid.yaml"
    grid.write_text(yaml.safe_dump({"data_source": "hub",
                                    "tasks": {"piqa": {"hf_splits": {"pool": {"name": repo}, "eval": {"name": repo}}}},
                                    "icl": {"tasks": ["piqa"], "models": ["smollm2-135m"], "strategies": ["random"],
                                            "shots": [2], "seeds": [0]}}))
    outputs = [f"results/data/piqa/{split}.jsonl" for split in ("fewshot", "pool", "eval")]
    cmd = [str(Path(sys.executable).parent / "snakemake"), "-c1", "-s", str(REPO / "Snakefile"), "-d", str(wd),
           "--configfile", str(grid), "--", *outputs]
    env = {**os.environ, "ALGRID_DATA_ROOT": str(tmp_path / "no-data"), "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(tmp_path / "hf-cache")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=wd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fewshot, pool, eval_ = ([json.loads(line) for line in (wd / out).read_text().splitlines()] for out in outputs)
    assert [r["id"] for r in fewshot] == [f"piqa-train-{i}" for i in range(8)]
    assert [r["id"] for r in pool] == [f"piqa-train-{i}" for i in range(8, 12)]
    assert [(r["input"], r["choices"], r["target"]) for r in eval_] == [
        (f"To finish task {i}", ["Freeze it.", "Heat it."], "B") for i in range(3)]


def test_schema_takes_a_task_with_hf_splits_alone():
    from algrid.config import check_schema

    config = {**yaml.safe_load((REPO / "config" / "defaults.yaml").read_text()), "tasks": dict(TASKS)}
    check_schema(config, REPO / "config" / "schema.yaml")  # the hub-only tasks have no splits
    config["tasks"]["bare"] = {"family": "math", "metric": "numeric"}
    with pytest.raises(ConfigError, match=r"^config key 'tasks\.bare\.splits': required key is missing$"):
        check_schema(config, REPO / "config" / "schema.yaml")
