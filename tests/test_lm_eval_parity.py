"""algrid's log-likelihoods and greedy answers equal lm-evaluation-harness's (lm_eval 0.4.13, ``HFLM``) for the
same requests: real SST-2, CommonsenseQA, GSM8K and BBH boolean_expressions rows loaded by algrid's own loaders
(config/tasks.yaml), prompts built exactly as algrid's ICL family builds them (``prompts.build_prompt`` through
``options.fit_prompt``; loglik choices through ``options.answer_options``), in chat and plain Q/A style, with and
without demonstrations, for SmolLM2-135M and Gemma 3 270M, each as the base model and with a LoRA adapter
(non-zero weights, loaded through ``models.load_model(adapter=...)``).

HFLM is built from the very model and tokenizer objects algrid loaded (the PeftModel for the adapter), so any
difference comes from how each side tokenises, pads, batches and scores.

Largest |algrid NLL - (-HFLM.loglikelihood)| of one continuation measured here (float32, CPU, one thread, HFLM
batch size 4): SmolLM2 6e-5 nats (chat with demonstrations), SmolLM2 + LoRA 6e-5, Gemma 7e-6, Gemma + LoRA 2.6e-4.
The tolerance is 2e-3 nats a continuation; the argmax over choices is the same on every row. Before the fix in
generation.sequence_nll (cross-entropy over the last dimension) a 107-token GSM8K gold answer was 8.7e-3 nats off
on SmolLM2: torch's CPU cross_entropy over dim 1 of [batch, vocab, time] logits is off by up to 2e-4 nats a token,
while choice_nll and lm_eval (log_softmax over the vocabulary) agree with a float64 reference.

Differs on purpose (and handled in the comparison, see harness_loglik and test_greedy_generation_parity):
lm_eval moves a prompt's trailing whitespace into the continuation (chat prompts end in "assistant\\n"), algrid keeps
it in the prompt; algrid's raw greedy continuation keeps the stop string and is cut and stripped later
(prompts.cut_output), lm_eval cuts at its until strings without stripping. Both stop at the same EOS ids here
(algrid: the tokenizer's and the generation config's; lm_eval: the generation config's and the EOS text).
"""

import pytest
import torch
import yaml
from algrid import data, generation, models, prompts, tokens, train
from algrid import tasks as algrid_tasks
from algrid.icl import options
from algrid.icl.predict import LOGLIK_FAMILIES, predict_loglik
from conftest import REPO
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

TOL = 2e-3
TASKS = ("sst2", "commonsenseqa", "gsm8k", "bbh-boolean-expressions")
REGISTRY = yaml.safe_load((REPO / "config" / "tasks.yaml").read_text())["tasks"]
FIRST = 20  # rows are the shortest of the task's first FIRST eval rows (and of its fixed exemplars): a fast suite
# per task: eval rows for the log-likelihoods (CommonsenseQA scores 5 choices, GSM8K long rationales) and
# demonstrations in the few-shot prompts (the task's fixed exemplars; GSM8K's are worked solutions)
ROWS = {"sst2": 3, "commonsenseqa": 2, "gsm8k": 2, "bbh-boolean-expressions": 3}
SHOTS = {"sst2": 2, "commonsenseqa": 2, "gsm8k": 1, "bbh-boolean-expressions": 2}
# greedy generation: the first eval row of each task in one batch of BATCH, plus on SmolLM2 SST-2's second row, so
# that with demonstrations two prompts share them and generate_shared runs (Gemma: ~1 s an answer)
GEN_ROWS = {"smollm2": {"sst2": 2}, "gemma": {}}
MAX_NEW = 10  # max_new_tokens = max_gen_toks
BATCH = 4  # algrid's and HFLM's batch size
# (style, with demonstrations) per model: the whole matrix on base SmolLM2; the adapters and Gemma (262k-token
# vocabulary: every position lm_eval scores costs ~20 ms on one CPU thread) cover the rest between them
CONFIGS = {"smollm2": [("chat", False), ("chat", True), ("qa", False), ("qa", True)],
           "smollm2+lora": [("chat", True), ("qa", False)],
           "gemma": [("qa", True)],
           "gemma+lora": [("qa", False)]}
MAX_DIFF = {}  # (model, style, with demonstrations) -> largest |difference| of one continuation's NLL


def shortest(rows, n):
    """The n shortest rows (question, choices and rationale), in their order."""
    def size(row):
        return len(row["input"]) + len(" ".join(row.get("choices") or [])) + len(str(row["meta"].get("rationale", "")))

    keep = sorted(sorted(range(len(rows)), key=lambda i: size(rows[i]))[:n])
    return [rows[i] for i in keep]


@pytest.fixture(scope="module")
def task_data(data_root):
    return load_tasks(data_root)


def load_tasks(data_root):
    """task id -> (task entry, eval rows, fixed exemplars), through algrid's loaders (config/tasks.yaml's splits)."""
    out = {}
    for task_id in TASKS:
        task = REGISTRY[task_id]
        rows = data.load_split(data.task_split_spec(task, "eval"), key=f"tasks.{task_id}.splits.eval",
                               data_root=data_root)[:FIRST]
        split, spec, first = algrid_tasks.split_source(task, "fewshot")
        demos = data.load_split(spec, key=f"tasks.{task_id}.splits.{split}", data_root=data_root)[:first]
        out[task_id] = (task, shortest(rows, ROWS[task_id]), shortest(demos, SHOTS[task_id]))
        assert [len(x) for x in out[task_id][1:]] == [ROWS[task_id], SHOTS[task_id]]
    return out


def make_adapter(model_dir, out):
    """A real LoRA adapter with non-zero A and B (PEFT's init_lora_weights=False), saved as algrid saves one."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                      init_lora_weights=False, task_type="CAUSAL_LM")
    train.save_adapter(get_peft_model(models.load_model(model_dir), lora), out)
    return out


class LM:
    def __init__(self, name, tokenizer, model):
        self.name, self.tok, self.model = name, tokenizer, model
        # BOS: algrid puts the tokenizer's BOS once in front of every sequence where the tokenizer adds one by
        # default (tokens.encode: Gemma's <bos>; SmolLM2 adds none). HFLM encodes with add_special_tokens=
        # add_bos_token when that is set, else with the tokenizer's default, and adds nothing to a string that already
        # starts with the BOS text. Older 0.4.x releases forced add_bos_token=True for Gemma configs; lm_eval
        # 0.4.13's HFLM has no Gemma rule any more (only its sglang backend forces a BOS for "gemma" names), so we
        # pass add_bos_token explicitly as algrid does it: True for Gemma (one BOS), False for SmolLM2 (none). The
        # token-sequence checks below assert that both sides score the very same ids.
        self.add_bos = tokens.bos_id(tokenizer) is not None
        self.hflm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=BATCH, add_bos_token=self.add_bos)


@pytest.fixture(scope="module", params=list(CONFIGS))
def lm(request, tmp_path_factory):
    """The model (and PeftModel) as algrid loads it, and HFLM on the same objects; one at a time."""
    name = request.param
    model_dir = request.getfixturevalue("model_dir" if name.startswith("smollm2") else "gemma_dir")
    tokenizer = models.load_tokenizer(model_dir)
    adapter = make_adapter(model_dir, tmp_path_factory.mktemp("lora")) if name.endswith("+lora") else None
    model = models.load_model(model_dir, adapter=adapter)
    assert (type(model).__name__ == "PeftModelForCausalLM") == (adapter is not None)
    if name.startswith("gemma"):
        # Gemma's GGUF carries no chat template: its chat-style prompt is the plain Q/A one (prompts.uses_chat),
        # so chat style is covered on SmolLM2 only
        assert tokenizer.chat_template is None and tokens.bos_id(tokenizer) == tokenizer.bos_token_id == 2
        row = {"id": "r", "input": "Is 2 > 1?", "target": "yes", "meta": {}}
        assert (prompts.build_prompt(tokenizer, prompts.prompt_config("classification", {"style": "chat"}), row)
                == prompts.build_prompt(tokenizer, prompts.prompt_config("classification", {"style": "qa"}), row))
    else:
        assert tokenizer.chat_template and tokens.bos_id(tokenizer) is None
    return LM(name, tokenizer, model)


def prompt_config(task, style):
    return prompts.prompt_config(task["family"], {**task.get("prompt", {}), "style": style})


def loglik_requests(tok, task, rows, demos, style):
    """(prompt config, per row (prompt, [continuations], [labels])) as algrid's ICL family scores it: predict_loglik's
    prompts and choices for SST-2 and CommonsenseQA (choice_text letter); for GSM8K and BBH, which algrid answers by
    generation, the gold answer after the same prompt (the continuation algrid's training scores)."""
    pc = prompt_config(task, style)
    out = []
    for row in rows:
        if task["family"] in LOGLIK_FAMILIES:
            lpc = options.loglik_prompt_config(pc, "letter")
            lead = "" if prompts.uses_chat(tok, lpc) else " "
            text, _ = options.fit_prompt(tok, lpc, row, [options.loglik_demo(d, lpc, "letter") for d in demos], None)
            opts = options.answer_options(row, lpc, "letter")
            out.append((text, [lead + a for _, a in opts], [label for label, _ in opts]))
        else:
            text, _ = options.fit_prompt(tok, pc, row, demos, None)
            lead = "" if prompts.uses_chat(tok, pc) else " "
            out.append((text, [lead + prompts.format_answer(row, pc)], [row["target"]]))
    return pc, out


def harness_loglik(lm, pairs):
    """HFLM.loglikelihood of each (prompt, continuation), as (log-likelihood, continuation tokens).

    lm_eval moves a context's trailing whitespace into the continuation (_encode_pair): a chat prompt ends in the
    template's "assistant\\n", so HFLM also scores that "\\n" token, which algrid counts as the prompt's (it is) and
    does not score. Its log-likelihood (the request (prompt without the whitespace, the whitespace)) is subtracted:
    what remains is the log-likelihood of the continuation tokens algrid scores; the token sequences of both sides
    are asserted identical."""
    requests, keys = [], []
    for prompt, cont in pairs:
        ws = prompt[len(prompt.rstrip()):]
        keys.append((prompt, cont, ws))
        requests += [(prompt, cont)] + ([(prompt.rstrip(), ws)] if ws else [])
    unique = list(dict.fromkeys(requests))
    values = lm.hflm.loglikelihood([Instance("loglikelihood", {}, r, i) for i, r in enumerate(unique)],
                                   disable_tqdm=True)
    ll = {r: v[0] for r, v in zip(unique, values)}
    bos = tokens.bos_id(lm.tok)
    result = []
    for prompt, cont, ws in keys:
        ctx_enc, cont_enc = lm.hflm._encode_pair(prompt, cont)
        ids = tokens.encode(lm.tok, prompt + cont)
        assert ctx_enc + cont_enc == ids, "HFLM and algrid tokenise the sequence differently"
        if bos is not None:  # Gemma: one BOS, in front
            assert ids[0] == bos and ids.count(bos) == 1
        else:  # SmolLM2: nothing added (its chat template writes its own <|im_start|> turns)
            assert ids == lm.tok(prompt + cont, add_special_tokens=False).input_ids
        n_ws = len(lm.hflm._encode_pair(prompt.rstrip(), ws)[1]) if ws else 0
        assert ids[: len(ctx_enc) + n_ws] == tokens.encode(lm.tok, prompt)  # the whitespace ends algrid's prompt
        result.append((ll[(prompt, cont)] - (ll[(prompt.rstrip(), ws)] if ws else 0.0), len(cont_enc) - n_ws))
    return result


def best(values, key):
    return max(range(len(values)), key=lambda j: key(values[j]))


def test_loglikelihood_parity(lm, task_data):
    """Every continuation's NLL from choice_nll (choice tasks) and sequence_nll (gold answers) equals -HFLM's
    log-likelihood within TOL, over the same tokens; algrid's loglik prediction (predict_loglik, per-token mean)
    and the summed-NLL argmax are HFLM's argmax on every row."""
    adapter_effect = 0.0
    for style, few in CONFIGS[lm.name]:
        worst = 0.0
        for task_id in TASKS:
            task, rows, demos = task_data[task_id]
            shown = demos if few else []
            pc, reqs = loglik_requests(lm.tok, task, rows, shown, style)
            pairs = [(p, c) for p, conts, _ in reqs for c in conts]
            theirs = harness_loglik(lm, pairs)
            if task["family"] in LOGLIK_FAMILIES:
                ours = [s for row in generation.choice_nll(lm.model, lm.tok, [p for p, _, _ in reqs],
                                                           [c for _, c, _ in reqs]) for s in row]
            else:
                ours = generation.sequence_nll(lm.model, lm.tok, [c for _, c in pairs], prefixes=[p for p, _ in pairs],
                                               batch_size=BATCH)
            for (nll, n), (ll, m), pair in zip(ours, theirs, pairs):
                where = (lm.name, task_id, style, few, pair[0][-80:], pair[1][:80])
                assert n == m, where
                assert abs(nll + ll) <= TOL, (f"algrid {nll:.6f} vs lm_eval {-ll:.6f}", *where)
                worst = max(worst, abs(nll + ll))
            if task["family"] in LOGLIK_FAMILIES:
                records = predict_loglik(lm.model, lm.tok, rows, [shown] * len(rows), pc,
                                         metric=task["metric"])
                start = 0
                for (_, conts, labels), record in zip(reqs, records):
                    mine, harness = ours[start : start + len(conts)], theirs[start : start + len(conts)]
                    start += len(conts)
                    assert record["pred"] == labels[best(harness, lambda v: v[0] / v[1])], (lm.name, task_id, record)
                    assert best(mine, lambda v: -v[0]) == best(harness, lambda v: v[0]), (lm.name, task_id, harness)
            if lm.name.endswith("+lora") and task_id == "sst2":  # the adapter is not a no-op
                with lm.model.disable_adapter():
                    base = generation.choice_nll(lm.model, lm.tok, [reqs[0][0]], [reqs[0][1]])[0]
                adapter_effect = max(adapter_effect, max(abs(a[0] - b[0]) for a, b in zip(base, ours)))
        MAX_DIFF[(lm.name, style, few)] = worst
    if lm.name.endswith("+lora"):
        assert adapter_effect > 0.05, "the LoRA adapter does not change the model's scores"
    print("largest |NLL difference|:", {k: f"{v:.1e}" for k, v in MAX_DIFF.items() if k[0] == lm.name})


def until_stop(text, stops):
    for s in stops:
        text = text.split(s)[0]
    return text


def test_greedy_generation_parity(lm, task_data):
    """algrid's greedy answers (generation.generate in batches of BATCH, stopped at every EOS id and the style's stop
    strings) equal HFLM.generate_until's strings for the same prompts, until strings and max_gen_toks; with
    demonstrations, shared-prefix generation (generate_shared, what the ICL and finetune predictions run: each
    task's prompts share the demonstrations) gives them too.

    Differs on purpose: algrid keeps the raw continuation (generation stops at the stop string, which stays in the
    text) and cuts it later (prompts.cut_output: up to "\\nQ:", stripped), before extracting the answer
    (metrics.extract_answer); lm_eval cuts at its until strings and does not strip. So the raw continuation is
    compared up to the stop strings, and cut_output with lm_eval's string stripped."""
    extra = GEN_ROWS[lm.name.split("+")[0]]
    for style, few in CONFIGS[lm.name]:
        texts, pcs, groups = [], [], []
        for task_id in TASKS:
            task, rows, demos = task_data[task_id]
            pc = prompt_config(task, style)
            groups.append(range(len(texts), len(texts) + extra.get(task_id, 1)))
            for row in rows[: extra.get(task_id, 1)]:
                texts.append(options.fit_prompt(lm.tok, pc, row, demos if few else [], None)[0])
                pcs.append(pc)
        stops = prompts.stop_strings(lm.tok, pcs[0])
        # the same EOS ids on both sides: HFLM's generate stops at the generation config's, and at the EOS text
        eos = [lm.tok.eos_token_id]
        assert generation.eos_ids(lm.model, lm.tok) == eos == [lm.model.generation_config.eos_token_id]
        assert stops == (() if style == "chat" else (prompts.STOP_QA,))
        raw = generation.generate(lm.model, lm.tok, texts, max_new_tokens=MAX_NEW, batch_size=BATCH,
                                  stop_strings=stops)
        gen_kwargs = {"max_gen_toks": MAX_NEW, "do_sample": False}
        theirs = lm.hflm.generate_until([Instance("generate_until", {}, (t, {"until": list(stops), **gen_kwargs}), i)
                                         for i, t in enumerate(texts)], disable_tqdm=True)
        assert sum(bool(t.strip()) for t in theirs) >= len(theirs) // 2, theirs
        for text, pc, ours, their in zip(texts, pcs, raw, theirs):
            assert until_stop(ours, stops) == their, (lm.name, style, few, text[-120:], ours, their)
            assert prompts.cut_output(ours, pc) == their.strip()
        for group in groups:
            if few and len(group) > 1:
                shared = generation.generate_shared(lm.model, lm.tok, [texts[i] for i in group], max_new_tokens=MAX_NEW,
                                                    batch_size=BATCH, stop_strings=stops)
                ids = [tokens.encode(lm.tok, texts[i]) for i in group]
                assert generation.shared_prefix_length(ids) >= 32  # the shared prefix is computed once (the default)
                assert [until_stop(o, stops) for o in shared] == [theirs[i] for i in group], (lm.name, style)
