"""Model features of pool rows (and of the eval tasks' target rows) for the fine-tuning selection strategies.

One job computes one kind for one file of rows and writes ``features`` ([rows, d] float32), the rows' ``ids``
and its ``cost`` (JSON: model calls, seconds) to an .npz file that the strategy of the same name reads:

badge  the gradient embedding of BADGE (Ash et al. 2020) for a language model: the gradient, at the output
       layer W (logits = h W^T), of the mean cross-entropy of the model's own greedy answer taken as its label,
       (1/T) sum_t (p_t - e_{y_t}) h_t^T, a [vocab, hidden] matrix. Stored sketched on its vocabulary side,
       R G with R a seeded Gaussian [proj_dim, vocab] / sqrt(proj_dim), so that E[<R G, R G'>] = <G, G'>:
       [proj_dim * hidden] per row.
bald   BALD (Houlsby et al. 2011; Gal et al. 2017) with MC dropout over the LoRA adapter's dropout: K passes
       with the adapter's dropout on, teacher-forced on the greedy answer of the model with dropout off; per
       answer token the mutual information H[mean_k p_k] - mean_k H[p_k], averaged over the answer's tokens:
       [1] per row.
rds    RDS+ (Ivison et al. 2025): the model's final hidden states (after its last norm) of the training text
       (prompt + answer), position-weighted mean pooling (weight of position i: i / sum_j j): [hidden].
less   LESS (Xia et al. 2024) with SGD gradients: the gradient of a row's training loss (mean cross-entropy of
       its answer tokens) with respect to the warm-up adapter's LoRA weights, projected by a seeded count
       sketch (each weight to one of proj_dim coordinates with a random sign; a sparse Johnson-Lindenstrauss
       map, so E[<Sg, Sg'>] = <g, g'>): [proj_dim].

A "model call" is one pass of one sequence through the model: a greedy generation, a forward, a backward
(BALD's K dropout passes count K).
"""

import json
import logging
import time
from pathlib import Path

import numpy as np

from .. import generation, models, prompts, tokens
from ..errors import ConfigError
from ..io import atomic_path, read_jsonl

log = logging.getLogger(__name__)

KINDS = ("badge", "bald", "rds", "less")


def _causal(model):
    """The causal LM under a PEFT wrapper (its LoRA layers stay in place)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def final_states(model, ids: list[int]):
    """Final hidden states (after the last norm, the output layer's input) [L, hidden] and logits [L, vocab]."""
    import torch

    causal = _causal(model)
    dev = next(model.parameters()).device
    h = causal.get_decoder()(input_ids=torch.tensor([ids], device=dev)).last_hidden_state[0]
    return h, causal.get_output_embeddings()(h).float()


def greedy_answers(model, tokenizer, texts, *, max_new_tokens: int, batch_size: int, stop_strings=()):
    """(prompt ids, answer ids) of each text's greedy answer: the answer tokens as ``generation`` scores them
    (before the first EOS or stop string, at least one)."""
    import torch

    tokenizer.padding_side = "left"
    eos = set(generation.eos_ids(model, tokenizer))
    dev = next(model.parameters()).device
    order = np.argsort([-len(tokens.encode(tokenizer, t)) for t in texts], kind="stable")
    out = [None] * len(texts)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        enc = tokens.batch(tokenizer, [texts[i] for i in idx], dev)
        with torch.inference_mode():
            seq = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id, temperature=None, top_p=None, top_k=None,
                                 **generation.stopping(model, tokenizer, stop_strings))
        new = seq[:, enc.input_ids.shape[1]:]
        for row, i in enumerate(idx):
            answer = new[row].tolist()
            n = generation.answer_length(answer, tokenizer, eos, stop_strings)
            out[i] = (tokens.encode(tokenizer, texts[i]), answer[:n])
    return out


def badge_sketch(vocab: int, dim: int, seed: int):
    """BADGE's vocabulary-side sketch R: [dim, vocab], N(0, 1/dim) from ``seed`` (the same for every row)."""
    import torch

    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(dim, vocab, generator=g) / dim ** 0.5


def badge_embedding(model, prompt_ids, answer_ids, sketch):
    """R (1/T) sum_t (p_t - e_{y_t}) h_t^T, flattened [dim * hidden]: the sketched output-layer gradient of the
    mean cross-entropy of the answer ``answer_ids`` (the model's own) after ``prompt_ids``."""
    import torch

    with torch.inference_mode():
        h, logits = final_states(model, prompt_ids + answer_ids)
        at = slice(len(prompt_ids) - 1, len(prompt_ids) + len(answer_ids) - 1)  # positions predicting the answer
        h, a = h[at].float().cpu(), torch.softmax(logits[at], dim=-1).cpu()
        a[torch.arange(len(answer_ids)), torch.tensor(answer_ids)] -= 1.0
        return ((sketch @ a.T) @ h / len(answer_ids)).reshape(-1).numpy()


def lora_dropouts(model) -> list:
    """The LoRA adapter's dropout modules that drop something (p > 0)."""
    import torch

    return [m for name, m in model.named_modules()
            if "lora_dropout" in name and isinstance(m, torch.nn.Dropout) and m.p > 0]


def answer_mutual_information(logp) -> float:
    """Mean over answer tokens of H[mean_k p_k] - mean_k H[p_k] from log-probabilities [K, T, vocab]."""
    import torch

    p = logp.exp()
    mean = p.mean(0)
    predictive = -(mean * torch.log(mean.clamp_min(1e-30))).sum(-1)
    expected = -(p * logp).sum(-1).mean(0)
    return float((predictive - expected).clamp_min(0.0).mean())


def dropout_passes(model, prompt_ids, answer_ids, passes: int, seed: int):
    """Log-probabilities [passes, T, vocab] of the answer tokens' positions, one dropout sample per pass (one
    batch of ``passes`` copies: each copy draws its own masks), torch's generator seeded with ``seed``."""
    import torch

    dev = next(model.parameters()).device
    drops = lora_dropouts(model)
    for m in drops:
        m.train()
    try:
        torch.manual_seed(int(seed))
        with torch.inference_mode():
            ids = torch.tensor([prompt_ids + answer_ids] * passes, device=dev)
            logits = model(input_ids=ids).logits[:, len(prompt_ids) - 1:len(prompt_ids) + len(answer_ids) - 1]
            return torch.log_softmax(logits.float(), dim=-1).cpu()
    finally:
        for m in drops:
            m.eval()


def pooled_state(model, ids: list[int]):
    """RDS+'s embedding: final hidden states, position-weighted mean (position i of L weighs i / sum_j j)."""
    import torch

    with torch.inference_mode():
        h = final_states(model, ids)[0].float().cpu()
    w = torch.arange(1, len(ids) + 1, dtype=torch.float32)
    return (w / w.sum()) @ h


def count_sketch(size: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """LESS's projection as a count sketch: each of ``size`` weights' coordinate in [0, dim) and sign."""
    rng = np.random.default_rng(int(seed))
    return rng.integers(0, dim, size=size), rng.choice(np.array([-1.0, 1.0]), size=size)


def lora_parameters(model) -> list:
    """The adapter's trainable LoRA weights, by name (the order the gradient is flattened in)."""
    return [p for _, p in sorted((n, p) for n, p in model.named_parameters() if p.requires_grad)]


def loss_gradient(model, example: dict):
    """The gradient of one row's training loss (train.encode: mean cross-entropy of its answer tokens) with
    respect to the LoRA weights, flattened in ``lora_parameters`` order."""
    import torch

    dev = next(model.parameters()).device
    params = lora_parameters(model)
    ids = torch.tensor([example["input_ids"]], device=dev)
    loss = model(input_ids=ids, labels=torch.tensor([example["labels"]], device=dev)).loss
    grads = torch.autograd.grad(loss, params)
    return torch.cat([g.reshape(-1) for g in grads]).float().cpu().numpy()


def _badge(model, tokenizer, rows, ctx):
    answers = greedy_answers(model, tokenizer, ctx["texts"], **ctx["generate"])
    sketch = badge_sketch(_causal(model).get_output_embeddings().weight.shape[0], ctx["params"]["proj_dim"],
                          ctx["params"]["sketch_seed"])
    return np.stack([badge_embedding(model, p, a, sketch) for p, a in answers]), 2 * len(rows)


def _bald(model, tokenizer, rows, ctx):
    if not lora_dropouts(model):
        raise ConfigError(f"presets.{ctx['preset']}.lora_dropout",
                          "is 0: bald samples the LoRA adapter's dropout, and this adapter has none to sample")
    answers = greedy_answers(model, tokenizer, ctx["texts"], **ctx["generate"])
    passes, seed = ctx["params"]["passes"], ctx["params"]["seed"]
    mi = [answer_mutual_information(dropout_passes(model, p, a, passes, seed * 1_000_003 + i))
          for i, (p, a) in enumerate(answers)]
    return np.asarray(mi, dtype=np.float32)[:, None], len(rows) * (1 + passes)


def _rds(model, tokenizer, rows, ctx):
    texts = [prompt + answer for prompt, answer in ctx["pairs"]]
    return np.stack([pooled_state(model, tokens.encode(tokenizer, t)).numpy() for t in texts]), len(rows)


def _less(model, tokenizer, rows, ctx):
    from ..train import encode

    model.eval()  # the gradient of the adapter as trained, without dropout
    size = sum(p.numel() for p in lora_parameters(model))
    buckets, signs = count_sketch(size, ctx["params"]["proj_dim"], ctx["params"]["sketch_seed"])
    out = []
    for (prompt, completion), row in zip(ctx["pairs"], rows):
        example = encode(tokenizer, prompt, completion + tokenizer.eos_token, ctx["max_length"],
                         key=f"presets.{ctx['preset']}.max_length", row_id=row.get("id"))
        g = loss_gradient(model, example)
        out.append(np.bincount(buckets, weights=signs * g, minlength=ctx["params"]["proj_dim"]))
    return np.stack(out), 2 * len(rows)


COMPUTE = {"badge": _badge, "bald": _bald, "rds": _rds, "less": _less}


def write_features(out_path, features: np.ndarray, ids, cost: dict) -> None:
    with atomic_path(out_path) as tmp, open(tmp, "wb") as f:
        np.savez(f, features=np.asarray(features, dtype=np.float32), ids=np.asarray([str(i) for i in ids]),
                 cost=np.asarray(json.dumps(cost)))


def features_file(kind: str, model_dir, rows_path, out_path, *, family, prompt, model_spec, params: dict,
                  adapter=None, fewshot_path=None, scoring=None, preset="?", max_length=None) -> dict:
    """Compute one kind of features for the rows of ``rows_path`` (a pool or a target split) -> ``out_path``.

    badge and bald answer as pool scoring does (``scoring``: max_new_tokens, batch_size, fewshot_k exemplars
    from ``fewshot_path``); rds and less read each row's training text (prompt + its answer), as training does;
    less loads ``adapter`` trainable, the others for inference."""
    if kind not in COMPUTE:
        raise ConfigError("features", f"unknown feature kind '{kind}'; known: {', '.join(KINDS)}")
    started = time.time()
    rows = read_jsonl(rows_path)
    cost = {"kind": kind, "rows": len(rows), "adapter": str(adapter) if adapter else None}
    if adapter and kind == "less" and (Path(adapter) / "resolved.json").is_file():  # the warm-up training it needed
        resolved = json.loads((Path(adapter) / "resolved.json").read_text())
        cost["warmup"] = {"rows": resolved["n_examples"], "seconds": resolved["train_seconds"],
                          "model_calls": 2 * resolved["n_examples"] * resolved["params"]["epochs"]}
    tokenizer = models.load_tokenizer(model_dir)
    model = models.load_model(model_dir, adapter=adapter, quantization=model_spec.get("quantization", "none"),
                              dtype=model_spec.get("dtype", "float32"), trainable_adapter=kind == "less")
    pc = prompts.prompt_config(family, prompt)
    ctx = {"params": params, "preset": preset, "max_length": max_length}
    if kind in ("badge", "bald"):
        demos = read_jsonl(fewshot_path)[:scoring["fewshot_k"]]
        ctx["texts"] = [prompts.build_prompt(tokenizer, pc, r, demos=demos) for r in rows]
        ctx["generate"] = {"max_new_tokens": scoring["max_new_tokens"], "batch_size": scoring["batch_size"],
                           "stop_strings": prompts.stop_strings(tokenizer, pc)}
    else:
        ctx["pairs"] = [_text_pair(tokenizer, pc, r) for r in rows]
    features, calls = COMPUTE[kind](model, tokenizer, rows, ctx) if rows else (np.zeros((0, 1)), 0)
    cost.update(model_calls=int(calls + cost.get("warmup", {}).get("model_calls", 0)),
                seconds=round(time.time() - started + cost.get("warmup", {}).get("seconds", 0.0), 3))
    write_features(out_path, features, [r["id"] for r in rows], cost)
    log.info("%s features of %d rows %s -> %s in %.1fs (%d model calls)", kind, len(rows), features.shape,
             out_path, cost["seconds"], cost["model_calls"])
    return cost


def _text_pair(tokenizer, pc, row) -> tuple[str, str]:
    """A row's training prompt and answer (without EOS)."""
    prompt, completion = prompts.training_pair(tokenizer, pc, row)
    return prompt, completion[: len(completion) - len(tokenizer.eos_token)]


def warmup_rows(rows: list[dict], fraction: float, seed: int) -> list[dict]:
    """LESS's warm-up set: a seeded random ``fraction`` of the pool (at least one row), in pool order."""
    n = max(1, round(fraction * len(rows)))
    keep = np.sort(np.random.default_rng(int(seed)).choice(len(rows), size=min(n, len(rows)), replace=False))
    return [rows[i] for i in keep]


def train_warmup(model_dir, pool_path, out_dir, *, family, prompt, model_spec, preset: dict, params: dict,
                 preset_name: str = "?") -> dict:
    """LESS's warm-up adapter: the preset's LoRA trained ``warmup_epochs`` epochs on a random
    ``warmup_fraction`` of the pool (the paper: 5%, 4 epochs)."""
    from ..train import train_adapter

    rows = warmup_rows(read_jsonl(pool_path), params["warmup_fraction"], params["seed"])
    train = {**preset, "epochs": params["warmup_epochs"], "quantization": model_spec.get("quantization", "none"),
             "dtype": model_spec.get("dtype", "float32")}
    return train_adapter(model_dir, rows, prompts.prompt_config(family, prompt), out_dir, params=train,
                         seed=params["seed"], checkpoint_key=f"presets.{preset_name}.max_checkpoints",
                         extra_record={"train_ids": [r["id"] for r in rows], "purpose": "less warm-up"})
