"""Bad input of every kind ends in one line that names the config key or file:line, never a traceback.

Most cases call the validation and loading functions directly (algrid.config, algrid.data, algrid.io, runner);
a handful go through Snakemake to show the line reaches the user with a non-zero exit and no partial output.
BAD_INPUTS counts the distinct cases (the README quotes it).
"""

import copy
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from algrid import config as cfg
from algrid import metrics, strategies
from algrid.data import load_split
from algrid.errors import AlgridError, ConfigError, DataError
from algrid.icl import judge, score
from algrid.io import read_json, read_jsonl
from algrid.tasks import for_source
from conftest import DATA_ROOT, DEFAULT_GRID, REPO, TINY, snakemake, workdir
from snakemake.utils import update_config

SCHEMA = REPO / "config" / "schema.yaml"
TASK = "two-digit-addition"
MODEL = "smollm2-135m"


@pytest.fixture(scope="module")
def base():
    """The tiny grid's config as Snakemake merges it (tasks, defaults, then the --configfile files)."""
    config = {}
    for path in (REPO / "config" / "tasks.yaml", REPO / "config" / "defaults.yaml", DEFAULT_GRID, TINY):
        update_config(config, yaml.safe_load(path.read_text()))
    return config


def merged(base, change: dict) -> dict:
    config = copy.deepcopy(base)
    update_config(config, copy.deepcopy(change))
    return config


def validate(config) -> None:
    """What the Snakefile does before any job: the schema, then the cross-key checks."""
    cfg.check_schema(config, SCHEMA)
    config["tasks"] = for_source(config["tasks"], config.get("data_source", "local"))
    cfg.check_config(config)


def one_line(error: Exception) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    return text


# (change merged over the tiny grid, the line's expected start or fragment)
SCHEMA_CASES = [
    # types and ranges
    ({"presets": {"tiny": {"lr": 0}}}, "config key 'presets.tiny.lr': 0 is less than or equal to the minimum of 0"),
    ({"presets": {"tiny": {"lr": -0.001}}}, "config key 'presets.tiny.lr': -0.001 is less than or equal"),
    ({"presets": {"tiny": {"lr": "fast"}}}, "config key 'presets.tiny.lr': 'fast' is not of type 'number'"),
    ({"presets": {"tiny": {"lora_dropout": 1.0}}}, ("config key 'presets.tiny.lora_dropout': 1.0 is greater than or "
                                                   "equal to the maximum of 1")),
    ({"presets": {"tiny": {"lora_dropout": -0.1}}}, "config key 'presets.tiny.lora_dropout': -0.1 is less than"),
    ({"presets": {"tiny": {"lora_r": 0}}}, "config key 'presets.tiny.lora_r': 0 is less than the minimum of 1"),
    ({"presets": {"tiny": {"lora_r": 2.5}}}, "config key 'presets.tiny.lora_r': 2.5 is not of type 'integer'"),
    ({"presets": {"tiny": {"lora_alpha": 0}}}, "config key 'presets.tiny.lora_alpha': 0 is less than or equal"),
    ({"presets": {"tiny": {"epochs": 0}}}, "config key 'presets.tiny.epochs': 0 is less than the minimum of 1"),
    ({"presets": {"tiny": {"batch_size": 0}}}, "config key 'presets.tiny.batch_size': 0 is less than the minimum"),
    ({"presets": {"tiny": {"max_new_tokens": 0}}}, "config key 'presets.tiny.max_new_tokens': 0 is less than"),
    ({"presets": {"tiny": {"max_length": 8}}}, "config key 'presets.tiny.max_length': 8 is less than the minimum"),
    ({"presets": {"tiny": {"warmup_ratio": 1}}}, "config key 'presets.tiny.warmup_ratio': 1 is greater than or equal"),
    ({"presets": {"tiny": {"target_modules": []}}}, "config key 'presets.tiny.target_modules': [] should be non-empty"),
    ({"threads": {"model": 0}}, "config key 'threads.model': 0 is less than the minimum of 1"),
    ({"scoring": {"max_new_tokens": 0}}, "config key 'scoring.max_new_tokens': 0 is less than the minimum of 1"),
    ({"scoring": {"shard_size": 0}}, "config key 'scoring.shard_size': 0 is less than the minimum of 1"),
    ({"icl": {"eval_limit": 0}}, "config key 'icl.eval_limit': 0 is less than the minimum of 1"),
    ({"finetune": {"budgets": [0]}}, "config key 'finetune.budgets.0': 0 is less than the minimum of 1"),
    ({"finetune": {"seeds": [-1]}}, "config key 'finetune.seeds.0': -1 is less than the minimum of 0"),
    ({"finetune": {"budgets": [4, 4]}}, "config key 'finetune.budgets': [4, 4] has non-unique elements"),
    ({"tasks": {TASK: {"splits": {"pool": {"size": 0}}}}}, f"config key 'tasks.{TASK}.splits.pool.size': 0 is less"),
    # ids as slugs
    ({"finetune": {"models": ["Smol_LM"]}}, "config key 'finetune.models.0': 'Smol_LM' is not a slug"),
    ({"models": {"Smol_LM": {"source": {"type": "local", "path": "/m"}}}}, ("config key 'models': 'Smol_LM' is not a "
                                                                           "slug")),
    ({"finetune": {"embedder": "MiniLM"}}, "config key 'finetune.embedder': 'MiniLM' is not a slug"),
    # unknown keys at every level, with the closest known key
    ({"finetuen": {}}, "config key 'finetuen': unknown key (did you mean 'finetune'?)"),
    ({"presets": {"tiny": {"lrr": 0.1}}}, "config key 'presets.tiny.lrr': unknown key (did you mean 'lr'?)"),
    ({"finetune": {"budget": [4]}}, "config key 'finetune.budget': unknown key (did you mean 'budgets'?)"),
    ({"icl": {"shot": [2]}}, "config key 'icl.shot': unknown key (did you mean 'shots'?)"),
    ({"scoring": {"batchsize": 2}}, "config key 'scoring.batchsize': unknown key (did you mean 'batch_size'?)"),
    ({"threads": {"modle": 2}}, "config key 'threads.modle': unknown key (did you mean 'model'?)"),
    ({"models": {MODEL: {"dtpye": "float32"}}}, (f"config key 'models.{MODEL}.dtpye': unknown key (did you mean "
                                                "'dtype'?)")),
    ({"models": {MODEL: {"source": {"fiel": "x.gguf"}}}}, (f"config key 'models.{MODEL}.source.fiel': unknown key "
                                                          "(did you mean 'file'?)")),
    ({"tasks": {TASK: {"splits": {"pool": {"sise": 20}}}}}, (f"config key 'tasks.{TASK}.splits.pool.sise': unknown "
                                                            "key (did you mean 'size'?)")),
    ({"tasks": {TASK: {"prompt": {"styel": "qa"}}}}, (f"config key 'tasks.{TASK}.prompt.styel': unknown key (did you "
                                                     "mean 'style'?)")),
    # enumerations, with the closest choice
    ({"data_source": "hubb"}, "config key 'data_source': 'hubb' is not one of local, hub (did you mean 'hub'?)"),
    ({"models": {MODEL: {"dtype": "float8"}}}, f"config key 'models.{MODEL}.dtype': 'float8' is not one of float32"),
    ({"icl": {"predict_by": "logliks"}}, ("config key 'icl.predict_by': 'logliks' is not one of loglik, generate "
                                         "(did you mean 'loglik'?)")),
    # missing keys
    ({"presets": {"new": {"lr": 0.1}}}, "config key 'presets.new.lora_r': required key is missing"),
    ({"models": {"new": {"source": {"type": "hf"}}}}, "config key 'models.new.source.id': required key is missing"),
]

CROSS_CASES = [
    ({"finetune": {"models": ["smollm2-135"]}}, ("config key 'finetune.models': unknown model 'smollm2-135' (did you "
                                                "mean 'smollm2-135m'?); known (models): smollm2-135m")),
    ({"finetune": {"presets": ["tinyy"]}}, ("config key 'finetune.presets': unknown preset 'tinyy' (did you mean "
                                           "'tiny'?)")),
    ({"finetune": {"eval_tasks": ["two-digit-adition"]}}, ("config key 'finetune.eval_tasks': unknown task "
                                                          "'two-digit-adition' (did you mean 'two-digit-addition'?)")),
    ({"embedders": {"other": {"source": {"type": "local", "path": "/e"}}}, "finetune": {"embedder": "minilm"}},
     "config key 'finetune.embedder': unknown embedder 'minilm'"),
    ({"finetune": {"budgets": [40]}}, (f"config key 'finetune.budgets': budget 40 is larger than the pool of task "
                                      f"'{TASK}' (at most 20 rows: tasks.{TASK}.splits.pool)")),
    ({"finetune": {"budgets": [1]}}, "config key 'finetune.budgets': budget 1 is smaller than finetune.rounds 2"),
    ({"presets": {"tiny": {"fewshot_k": 3}}}, (f"config key 'presets.tiny.fewshot_k': 3 exemplars but "
                                              f"tasks.{TASK}.splits.fewshot holds at most 2 rows")),
    ({"scoring": {"fewshot_k": 5}}, f"config key 'scoring.fewshot_k': 5 exemplars but tasks.{TASK}.splits.fewshot"),
    ({"icl": {"tasks": [TASK], "models": [MODEL], "strategies": ["random"], "shots": [30], "seeds": [0]}},
     f"config key 'icl.shots': 30 shots but the pool of task '{TASK}' has at most 20 rows (tasks.{TASK}.splits.pool)"),
    ({"icl": {"judge": "judge-model"}}, "config key 'icl.judge': unknown model 'judge-model'"),
    ({"finetune": {"strategies": ["bm25"], "target_split": "eval"}}, ("config key 'finetune.target_split': 'eval' "
                                                                     "cannot be the target split")),
    ({"strategies": {"kcenter": {"begin": "first"}}}, "config key 'strategies.kcenter.begin': unknown parameter"),
    ({"finetune": {"strategies": ["random", "entropyy"]}}, "config key 'strategies': unknown strategy 'entropyy'"),
    ({"tasks": {TASK: {"prompt_file": "/nonexistent/cot.txt"}}}, (f"config key 'tasks.{TASK}.prompt_file': file "
                                                                 "'/nonexistent/cot.txt' does not exist")),
]


@pytest.mark.parametrize("change, expected", SCHEMA_CASES + CROSS_CASES)
def test_bad_config_is_one_line_naming_the_key(base, change, expected):
    with pytest.raises(ConfigError) as caught:
        validate(merged(base, change))
    assert expected in one_line(caught.value)


def test_the_tiny_grid_itself_is_valid(base):
    validate(merged(base, {}))  # the cases above fail for their change only


def test_a_grid_that_names_one_list_names_them_all(base):
    config = merged(base, {})
    del config["finetune"]["budgets"]
    with pytest.raises(ConfigError, match=r"config key 'finetune': 'budgets' is a dependency of 'tasks'"):
        validate(config)


# --- data files: one line naming file:line ----------------------------------------------------------------

SPEC = {"family": "math", "fields": {"input": "question", "target": "answer"}}


def load(tmp_path, name: str, content, **spec):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return load_split({**SPEC, "path": str(path), **spec}, key="tasks.t.splits.pool", data_root=tmp_path), path


DATA_CASES = [
    ("empty.jsonl", "", {}, "{path}: file is empty (no rows)"),
    ("blank.jsonl", "\n  \n", {}, "{path}: file is empty (no rows)"),
    ("malformed.jsonl", '{"question": "1+1?", "answer": "2"}\n{"question": "2+2?", "answer": \n', {},
     "{path}:2: malformed JSON line"),
    ("list.jsonl", '{"question": "1+1?", "answer": "2"}\n[1, 2]\n', {}, "{path}:2: expected a JSON object per line"),
    ("missing.jsonl", '{"question": "1+1?", "answer": "2"}\n{"question": "2+2?"}\n', {},
     "{path}:2: missing field 'answer'"),
    ("empty_target.jsonl", '{"question": "1+1?", "answer": ""}\n', {}, "{path}:1: empty target (field 'answer')"),
    ("empty_input.jsonl", '{"question": " ", "answer": "2"}\n', {}, "{path}:1: empty input (field 'question')"),
    ("nan_target.jsonl", '{"question": "1+1?", "answer": "two"}\n', {}, "{path}:1: target 'two' is not a number"),
    ("dup.jsonl", '{"id": "a", "question": "1+1?", "answer": "2"}\n{"id": "a", "question": "2+2?", "answer": "4"}\n',
     {"fields": {"id": "id", "input": "question", "target": "answer"}}, "{path}:2: duplicate id 'a' (also line 1)"),
    ("nocol.csv", "q,a\n1+1?,2\n", {}, "{path}:2: missing field 'question': the row has keys: q, a"),
    ("ragged.csv", "question,answer\n1+1?,2\n2+2?,4,extra\n", {}, "{path}:3: row has 3 columns, expected 2"),
    ("header.csv", "question,answer\n", {}, "{path}: no data rows after the header"),
    ("bad.json", '[{"question": "1+1?", "answer": "2"},\n {"question": }]\n', {}, "{path}:2: malformed JSON"),
    ("records.json", '{"data": []}', {"records": "examples"}, "{path}: records 'examples': no key 'examples'"),
    ("label.jsonl", '{"question": "good?", "answer": "maybe"}\n', {"family": "classification", "labels": ["yes", "no"]},
     "{path}:1: unknown label 'maybe'"),
    ("missing_file.jsonl", None, {}, "config key 'tasks.t.splits.pool.path': file not found: {path}"),
]


@pytest.mark.parametrize("name, content, spec, expected", DATA_CASES)
def test_bad_data_file_is_one_line_naming_file_and_line(tmp_path, name, content, spec, expected):
    path = tmp_path / name
    with pytest.raises(AlgridError) as caught:
        if content is None:
            load_split({**SPEC, "path": str(path)}, key="tasks.t.splits.pool", data_root=tmp_path)
        else:
            load(tmp_path, name, content, **spec)
    assert one_line(caught.value).startswith(expected.format(path=path))


@pytest.mark.parametrize("content, expected", [
    (b'{"a": 1}\n\x00\x01\x02\x89PNG\n', "{path}:2: binary file (a NUL byte), expected UTF-8 text"),
    (b'{"a": 1}\n{"a": "caf\xe9"}\n', "{path}:2: not UTF-8 text: byte 0xe9 at offset 19 cannot be decoded"),
    (b'{"a": 1}\n{"a": \n', "{path}:2: malformed JSON line"),
])
def test_corrupt_intermediate_file_is_one_line(tmp_path, content, expected):
    """Files the workflow reads back (algrid.io): binary, undecodable or malformed, each a DataError at file:line."""
    path = tmp_path / "rows.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        read_jsonl(path)
    assert one_line(caught.value).startswith(expected.format(path=path))


def test_malformed_json_file_names_the_line(tmp_path):
    path = tmp_path / "selected.json"
    path.write_text('{\n  "indices": [1, 2,\n')
    with pytest.raises(DataError, match=rf"^{path}:3: malformed JSON"):
        read_json(path)


# --- model outputs: counted, never a crash ---------------------------------------------------------------


def test_empty_and_nonsense_generations_are_counted_as_unparsed():
    records = [{"pred": metrics.extract_answer(out, "numeric"), "target": "4", "output": out}
               for out in ("", "   ", "\x00\x00", "#### four", "4")]
    result = metrics.score(records, "numeric")
    assert result["n_total"] == 5 and result["n_unparsed"] == 4 and result["n_correct"] == 1


def test_nan_uncertainty_scores_rank_last_not_crash():
    """NaN logits give NaN entropies; uncertainty selection ranks those rows last and still picks k."""
    scores = pd.DataFrame({c: [0.5, float("nan"), 0.9, float("nan")] for c in
                           ("entropy", "least_confidence", "margin", "max_entropy", "perplexity")})
    pool = strategies.Pool(n=4, selected=np.array([], dtype=np.int64), scores=scores)
    picked = strategies.get("entropy").select(3, pool, seed=0).indices
    assert picked[:2] == [2, 0] and len(set(picked)) == 3


def test_a_judge_answering_nonsense_is_counted(tmp_path):
    ratings = [judge.parse_rating(text) for text in ("7", "I think it's great!", "", "Rating: ten", "10/10")]
    assert ratings.count(None) >= 2
    predictions = tmp_path / "predictions.jsonl"
    judgments = tmp_path / "judgments.jsonl"
    predictions.write_text("".join(f'{{"id": "r{i}", "pred": "x", "target": "x", "output": "x"}}\n' for i in range(5)))
    judgments.write_text("".join(f'{{"rating": {"null" if r is None else r}}}\n' for r in ratings))
    result = score.score_file(predictions, tmp_path / "metrics.json", metric="text", identity={},
                              judgments_path=judgments)
    assert result["judge_n_unparsed"] == ratings.count(None)
    assert result["judge_score"] is None or math.isfinite(result["judge_score"])


# --- the disk: full or unwritable, one line ----------------------------------------------------------------

# root writes anywhere: once imports are done, the writer drops to an ordinary user (nobody)
RUN = ("import os, sys; sys.path.insert(0, {scripts!r}); from algrid.runner import run; from algrid.io import write_text\n"
       "if os.geteuid() == 0:\n    os.setgid(65534); os.setuid(65534)\n"
       "run(lambda: write_text({target!r}, 'x' * 100000), log_file=None, uses_torch=False)")


def run_writer(target: str) -> subprocess.CompletedProcess:
    code = RUN.format(scripts=str(REPO / "scripts"), target=target)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_a_full_disk_is_one_line(tmp_path):
    (tmp_path / "full").symlink_to("/dev/full")  # writing /dev/full fails with ENOSPC, like a full disk
    proc = subprocess.run([sys.executable, "-c", (
        f"import sys; sys.path.insert(0, {str(REPO / 'scripts')!r}); from algrid.runner import run\n"
        f"def main():\n    with open({str(tmp_path / 'full')!r}, 'w') as f:\n        f.write('x' * 100000)\n"
        "run(main, log_file=None, uses_torch=False)")], capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == ("algrid: cannot write an output (no space left on the device); "
                                                    "free space and rerun (incomplete outputs are rebuilt)")


def test_an_unwritable_results_dir_is_one_line(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o555)
    proc = run_writer(str(results / "final_metrics.csv"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"algrid: {results}")
    assert "cannot write (permission denied); make it writable and rerun" in proc.stderr
    assert not list(results.iterdir())  # no partial file


# --- through Snakemake: the line reaches the user, exit status non-zero, nothing written -----------------


@pytest.mark.parametrize("change, expected", [
    ({"presets": {"tiny": {"lrr": 0.1}}}, "algrid: config key 'presets.tiny.lrr': unknown key (did you mean 'lr'?)"),
    ({"finetune": {"budgets": [1]}}, ("algrid: config key 'finetune.budgets': budget 1 is smaller than "
                                     "finetune.rounds 2")),
    ({"presets": {"tiny": {"lora_dropout": 1}}}, ("algrid: config key 'presets.tiny.lora_dropout': 1 is greater "
                                                 "than or equal to the maximum of 1")),
])
def test_snakemake_prints_the_config_line(tmp_path, change, expected):
    wd = workdir(tmp_path / "wd")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(change))
    proc = snakemake(wd, "-n", configfiles=(DEFAULT_GRID, TINY, bad), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(expected)
    assert not (wd / "results").exists()


def test_snakemake_names_a_missing_field_at_file_and_line(tmp_path):
    wd = workdir(tmp_path / "wd")
    pool = tmp_path / "pool.csv"
    pool.write_text("question,answer\n1+1?,2\n2+2?,\n")
    task = {"family": "math", "metric": "numeric",
            "splits": {"pool": {"path": str(pool), "fields": {"input": "question", "target": "answer"}},
                       "eval": {"path": str(pool), "fields": {"input": "question", "target": "answer"}}}}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"tasks": {"local-math": task}}))
    proc = snakemake(wd, "-c1", "results/data/local-math/pool.jsonl", configfiles=(DEFAULT_GRID, TINY, bad),
                     check=False)
    assert proc.returncode != 0
    assert f"algrid: {pool}:3: empty target (field 'answer')" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (wd / "results/data/local-math/pool.jsonl").exists()


BAD_INPUTS = (len(SCHEMA_CASES) + len(CROSS_CASES) + 1 + len(DATA_CASES) + 3 + 1 + 3 + 2 + 1)


def test_the_count_of_bad_inputs():
    assert BAD_INPUTS >= 40
    assert DATA_ROOT  # the workflow cases read the tiny grid's data
