"""Bad input of every kind ends in one line that names the config key or file:line, never a traceback.

Most cases call the validation and loading functions directly (algrid.config, algrid.data, algrid.io, runner);
a handful go through Snakemake to show the line reaches the user with a non-zero exit and no partial output.
BAD_INPUTS counts the distinct cases (the README quotes it).
"""

import copy
import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from algrid import config as cfg
from algrid import metrics, strategies
from algrid.ads import grid as ads_grid
from algrid.ads import loop as ads_loop
from algrid.data import load_split
from algrid.errors import AlgridError, ConfigError, DataError
from algrid.finetune.grid import check_finetune_extras
from algrid.icl import judge, score
from algrid.io import read_json, read_jsonl
from algrid.safety import grid as safety_grid
from algrid.safety import prompts as safety_prompts
from algrid.tasks import for_source
from conftest import DATA_ROOT, DEFAULT_GRID, REPO, TINY, snakemake, workdir
from snakemake.utils import update_config

SCHEMA = REPO / "config" / "schema.yaml"
EXPERIMENTS = REPO / "config" / "experiments"
TASK = "two-digit-addition"
MODEL = "smollm2-135m"


@pytest.fixture(scope="module")
def base():
    """The tiny grid's config as Snakemake merges it (tasks, defaults, then the --configfile files)."""
    config = {}
    for path in (REPO / "config" / "tasks.yaml", REPO / "config" / "defaults.yaml", DEFAULT_GRID, TINY):
        update_config(config, yaml.safe_load(path.read_text()))
    config["data_root"] = str(DATA_ROOT)  # the safety and ads checks read the real data's files
    return config


def merged(base, change: dict) -> dict:
    config = copy.deepcopy(base)
    update_config(config, copy.deepcopy(change))
    return config


def validate(config) -> None:
    """What the Snakefile does before any job: the schema, then the cross-key checks (algrid.config's, then those
    of rules/ads.smk, rules/safety.smk and rules/metrics.smk, in the order they are included)."""
    cfg.check_schema(config, SCHEMA)
    config["tasks"] = for_source(config["tasks"], config.get("data_source", "local"))
    cfg.check_config(config)
    ads_grid.check_ads_config(config)
    safety_grid.check_safety(config)
    check_finetune_extras(config)


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
                                                "mean 'smollm2-135m'?); known (models): ")),
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


# the newer families: safety (and its judges), thresholds, adapters, ads; a grid of each over the tiny one
SAFETY = {"models": [MODEL]}  # the standalone safety grid: the model alone (adapter 'base')
ADS = {"tasks": [TASK], "models": [MODEL], "optimizer": MODEL, "seeds": [0], "heldout": 4}
GHOST = {"family": "math", "metric": "numeric", "splits": {"pool": {"path": "/nonexistent/pool.jsonl"},
                                                            "eval": {"path": "/nonexistent/eval.jsonl"}}}
AILUMINATE_ROWS = 1200  # prompts of ../shared/data/ailuminate/demo_en_us.csv

FAMILY_CASES = [
    # safety: sizes beyond the files, files that are not there, runs that do not exist
    ({"safety": {**SAFETY, "n_prompts": 5000}}, (f"config key 'safety.n_prompts': 5000 prompts asked for, but the "
                                                 f"AILuminate file {DATA_ROOT}/ailuminate/demo_en_us.csv "
                                                 f"(safety.prompts) holds {AILUMINATE_ROWS}; set at most "
                                                 f"{AILUMINATE_ROWS}")),
    ({"finetune": {"safety": True}, "safety": {"n_prompts": 1201}}, "config key 'safety.n_prompts': 1201 prompts"),
    ({"safety": {**SAFETY, "prompts": "/nonexistent/prompts.csv"}}, ("config key 'safety.prompts': file "
                                                                     "'/nonexistent/prompts.csv' does not exist")),
    ({"safety": {**SAFETY, "pyrit_root": "/nonexistent/pyrit"}}, ("config key 'safety.pyrit_root': "
                                                                  "'/nonexistent/pyrit' holds no objective/*.csv")),
    ({"safety": {**SAFETY, "adapters": []}}, (f"config key 'safety.models': model '{MODEL}' has no run: "
                                              "safety.adapters (empty) holds neither 'base' nor an adapter")),
    ({"safety": {**SAFETY, "reference": {"model": MODEL, "adapter": "mine"}}}, (f"config key 'safety.reference': "
                                                                               f"{MODEL}/mine is not a run")),
    ({"safety": {"judges": ["refusall"]}}, "config key 'safety.judges': unknown judge 'refusall' (did you mean"),
    ({"safety": {"min_valid": 1.5}}, "config key 'safety.min_valid': 1.5 is greater than the maximum of 1"),
    ({"safety": {"validation_limit": 0}}, "config key 'safety.validation_limit': 0 is less than the minimum of 1"),
    ({"safety": {"tie": "coin"}}, "config key 'safety.tie': 'coin' is not one of unsafe, safe, invalid"),
    ({"judges": {"smollm2-judge": {"guidelines": "resources/safety/missing.txt"}}},
     "config key 'judges.smollm2-judge.guidelines': file 'resources/safety/missing.txt' does not exist"),
    ({"judges": {"mine": {"kind": "llm", "model": "smollm2"}}}, ("config key 'judges.mine.model': 'smollm2' is "
                                                                "neither a models: id (did you mean 'smollm2-135m'?)")),
    ({"judges": {"mine": {"kind": "guard"}}}, "config key 'judges.mine.model': a guard judge needs a model"),
    ({"judges": {"mine": {"kind": "regex"}}}, "config key 'judges.mine.kind': 'regex' is not one of llm, guard"),
    # adapters: local directories that are not PEFT adapters, ids that name nothing
    ({"adapters": {"mine": {"source": "/nonexistent/adapter", "model": MODEL}},
      "safety": {**SAFETY, "adapters": ["base", "mine"]}},
     "config key 'adapters.mine.source': adapter directory '/nonexistent/adapter' does not exist"),
    ({"adapters": {"mine": {"source": str(REPO / "config"), "model": MODEL}},
      "finetune": {"adapters": {"mine": "tiny"}}},
     f"config key 'adapters.mine.source': '{REPO / 'config'}' is not a PEFT adapter: adapter_config.json missing"),
    ({"safety": {**SAFETY, "adapters": ["base", "mine"]}}, "config key 'safety.adapters': unknown adapter 'mine'"),
    ({"finetune": {"adapters": {"mine": "tiny"}}}, "config key 'finetune.adapters.mine': unknown adapter 'mine'"),
    ({"adapters": {"mine": {"source": "/a", "model": "gemma3-270m"}}, "safety": {**SAFETY, "adapters": ["mine"]}},
     "config key 'safety.adapters': adapter 'mine' is for model 'gemma3-270m' (adapters.mine.model), which is not"),
    ({"adapters": {"mine": {"source": "/a", "model": "smollm2"}}}, "config key 'adapters.mine.model': unknown model"),
    ({"adapters": {"base": {"source": "/a", "model": MODEL}}}, "config key 'adapters.base': 'base' stands for no"),
    # thresholds: a bar no run can clear, metrics and presets that are not there
    ({"thresholds": {"tiny": {"accuracy": 0.3, "safety": 0.3}}}, ("config key 'thresholds.tiny.safety': a safety "
                                                                 "threshold, but finetune.safety is off: every run "
                                                                 "of preset 'tiny' would fail")),
    ({"thresholds": {"tiny": {}}}, "config key 'thresholds.tiny': {} should be non-empty"),
    ({"thresholds": {"tiny": {"acuracy": 0.3}}}, ("config key 'thresholds.tiny.acuracy': unknown key (did you mean "
                                                 "'accuracy'?)")),
    ({"thresholds": {"tiny": {"safety": 1.5}}}, "config key 'thresholds.tiny.safety': 1.5 is greater than the maximum"),
    ({"thresholds": {"tinyy": {"accuracy": 0.3}}}, "config key 'thresholds.tinyy': unknown preset 'tinyy' (did you"),
    # ads: held-out rows that leave the optimizer nothing, a reward that cannot see the data, ids and files
    ({"ads": {**ADS, "heldout": 20}}, ("config key 'ads.heldout': 20 held-out rows leave no pool row for the "
                                       f"optimizer's example inputs: tasks.{TASK}.splits.pool holds at most 20 rows")),
    ({"ads": {**ADS, "max_docs": 0, "max_demos": 0}}, ("config key 'ads.max_docs': 0, and ads.max_demos is 0: the "
                                                       "reward's held-out score sees none of the collected data")),
    ({"ads": {**ADS, "modes": []}}, "config key 'ads.modes': [] should be non-empty"),
    ({"ads": {**ADS, "descriptions": {"two-digit-adition": "add"}}}, ("config key 'ads.descriptions.two-digit-adition':"
                                                                      " 'two-digit-adition' is not one of ads.tasks "
                                                                      f"(did you mean '{TASK}'?)")),
    ({"ads": {**ADS, "corpus": {"path": "/nonexistent/corpus.json", "text": ["facts"]}}},
     "config key 'ads.corpus.path': file '/nonexistent/corpus.json' does not exist"),
    ({"tasks": {"ghost": GHOST}, "ads": {**ADS, "tasks": ["ghost"]}}, ("config key 'tasks.ghost.splits.pool.path': "
                                                                      "file not found: /nonexistent/pool.jsonl")),
    ({"ads": {**ADS, "tasks": ["two-digit-adition"]}}, ("config key 'ads.tasks': unknown task 'two-digit-adition' "
                                                        f"(did you mean '{TASK}'?)")),
    ({"ads": {**ADS, "optimizer": "smollm2"}}, ("config key 'ads.optimizer': unknown model 'smollm2' (did you mean "
                                                f"'{MODEL}'?)")),
    ({"ads": {**ADS, "optimizer": None}}, "config key 'ads.optimizer': no optimizer model"),
    ({"ads": {**ADS, "judge": "judge-model"}}, "config key 'ads.judge': unknown model 'judge-model'"),
    ({"ads": {**ADS, "preset": "tinyy"}}, "config key 'ads.preset': unknown preset 'tinyy' (did you mean 'tiny'?)"),
    ({"ads": {**ADS, "seeds": []}}, "config key 'ads.seeds': is empty, but the ads grid names tasks"),
    ({"ads": {**ADS, "iterations": 0}}, "config key 'ads.iterations': 0 is less than the minimum of 1"),
    ({"ads": {**ADS, "budget": 0}}, "config key 'ads.budget': 0 is less than or equal to the minimum of 0"),
]


@pytest.mark.parametrize("change, expected", SCHEMA_CASES + CROSS_CASES + FAMILY_CASES)
def test_bad_config_is_one_line_naming_the_key(base, change, expected):
    with pytest.raises(ConfigError) as caught:
        validate(merged(base, change))
    assert expected in one_line(caught.value)


def test_the_tiny_grid_itself_is_valid(base):
    validate(merged(base, {}))  # the cases above fail for their change only


@pytest.mark.parametrize("files, expected", [
    ({"adapter_config.json": '{"peft_type": "LORA"}'}, ("'{path}' has no adapter weights (adapter_model.safetensors "
                                                         "or adapter_model.bin)")),
    ({"adapter_config.json": '{"peft_type": ', "adapter_model.safetensors": ""},
     "{path}/adapter_config.json: not valid JSON (Expecting value, line 1)"),
])
def test_a_local_adapter_that_is_not_a_peft_adapter_is_one_line(base, tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    change = {"adapters": {"mine": {"source": str(tmp_path), "model": MODEL}},
              "safety": {**SAFETY, "adapters": ["base", "mine"]}}
    with pytest.raises(ConfigError) as caught:
        validate(merged(base, change))
    assert one_line(caught.value) == f"config key 'adapters.mine.source': {expected.format(path=tmp_path)}"


def test_a_prompt_file_that_is_not_ailuminate_stops_planning(base, tmp_path):
    """Planning reads the AILuminate file (to count its prompts): a file of another layout is one line at file."""
    path = tmp_path / "prompts.csv"
    path.write_text("id,prompt\np1,How?\n")
    with pytest.raises(DataError) as caught:
        validate(merged(base, {"safety": {**SAFETY, "prompts": str(path)}}))
    assert one_line(caught.value) == (f"{path}: not an AILuminate prompt file: column(s) release_prompt_id, "
                                      "prompt_text, hazard missing")


# only the data shows these: the first job that reads it stops with the line, before any model loads, writing nothing


@pytest.mark.parametrize("questions, expected", [
    (["q0", "q1", "q2", "q3"], ("config key 'ads.heldout': 4 held-out rows, but {pool} holds 4 pool rows of task 't': "
                                "none is left for the optimizer's example inputs; set ads.heldout below 4")),
    (["q0", "q1", "q2", "q3", " Q0", "q1"], ("config key 'ads.heldout': every pool row of task 't' after the first 4 "
                                             "({pool}) repeats a held-out question: none is left for the optimizer's "
                                             "example inputs; lower ads.heldout")),
])
def test_ads_heldout_beyond_the_real_pool_stops_its_first_job(tmp_path, questions, expected):
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps({"id": f"r{i}", "input": q, "target": "yes"}) + "\n"
                            for i, q in enumerate(questions)))
    iteration = tmp_path / "iter1"
    missing = str(tmp_path / "not-loaded")  # no model is loaded before the check
    with pytest.raises(ConfigError) as caught:
        ads_loop.run_iteration({"pool": str(pool), "policy": missing, "optimizer": missing, "corpus": missing},
                               {k: str(iteration / f"{k}.jsonl") for k in ("trajectories", "api_calls", "collected",
                                                                           "scores")},
                               task={"name": "t", "family": "classification", "metric": "label", "description": "d"},
                               models_spec={"policy": {}, "optimizer": {}}, settings={"heldout": 4}, seed=0,
                               iteration=1, run="t/m/o/seed0")
    assert one_line(caught.value) == expected.format(pool=pool)
    assert not iteration.exists()


def test_safety_n_prompts_beyond_the_file_stops_its_job(tmp_path):
    """The prompt file read by the job (changed since planning, say) holds fewer prompts than safety.n_prompts."""
    path = tmp_path / "prompts.csv"
    path.write_text("release_prompt_id,prompt_text,hazard\np1,How?,vcr\np2,Why?,cse\n")
    out = tmp_path / "prompts.jsonl"
    with pytest.raises(ConfigError) as caught:
        safety_prompts.write_prompts(path, out, n=3, seed=0)
    assert one_line(caught.value) == (f"config key 'safety.n_prompts': 3 prompts asked for, but the AILuminate file "
                                      f"{path} holds 2; set at most 2")
    assert not out.exists()


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


@pytest.mark.parametrize("experiment, target, change, expected", [
    ("safety_cpu.yaml", "safety", {"safety": {"n_prompts": 5000}},
     "algrid: config key 'safety.n_prompts': 5000 prompts asked for, but the AILuminate file"),
    ("ads_cpu.yaml", "ads", {"ads": {"heldout": 1000}}, ("algrid: config key 'ads.heldout': 1000 held-out rows leave "
                                                         "no pool row for the optimizer's example inputs")),
    ("qlora_gsm8k_cpu.yaml", "all", {"finetune": {"safety": False}}, ("algrid: config key "
                                                                      "'thresholds.qlora-tiny.safety': a safety "
                                                                      "threshold, but finetune.safety is off")),
])
def test_snakemake_prints_the_line_of_a_newer_family(tmp_path, experiment, target, change, expected):
    wd = workdir(tmp_path / "wd")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(change))
    proc = snakemake(wd, "-n", target, configfiles=(EXPERIMENTS / experiment, bad), check=False)
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


BAD_INPUTS = (len(SCHEMA_CASES) + len(CROSS_CASES) + 1 + len(DATA_CASES) + 3 + 1 + 3 + 2 + 1
              + len(FAMILY_CASES) + 2 + 1 + 2 + 1)  # the newer families: + adapters, prompt file, heldout, n_prompts


def test_the_count_of_bad_inputs():
    assert BAD_INPUTS >= 40
    assert DATA_ROOT  # the workflow cases read the tiny grid's data
