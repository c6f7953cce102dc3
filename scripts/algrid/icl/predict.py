"""Predict with no training: by the answers' log-likelihood, or by greedy generation."""

import logging

import numpy as np

from .. import generation, metrics, models, prompts
from ..errors import ConfigError
from ..io import read_json, read_jsonl, write_jsonl
from ..predict import to_records
from .demos import demos_per_row, read_eval
from .options import answer_options, fit_prompt, loglik_demo, loglik_prompt_config

log = logging.getLogger(__name__)

LOGLIK_FAMILIES = ("classification", "multichoice")
PREDICT_BY = ("loglik", "generate")
LOGLIK_NORMS = ("mean", "sum")
CHOICE_TEXTS = ("letter", "option")


def predict_loglik(model, tokenizer, rows, demos, pc: dict, *, metric: str, loglik_norm: str = "mean",
                   choice_text: str = "letter", max_tokens: int | None = None) -> list[dict]:
    """Pick each row's answer by continuation NLL (per token with ``mean``, summed with ``sum``)."""
    lpc = loglik_prompt_config(pc, choice_text)
    lead = "" if prompts.uses_chat(tokenizer, lpc) else " "
    texts, shown, options = [], [], []
    for row, ds in zip(rows, demos):
        text, used = fit_prompt(tokenizer, lpc, row, [loglik_demo(d, lpc, choice_text) for d in ds], max_tokens)
        texts.append(text)
        shown.append(used)
        options.append(answer_options(row, lpc, choice_text))
    nlls = generation.choice_nll(model, tokenizer, texts, [[lead + a for _, a in opts] for opts in options],
                                 desc="predict (loglik)")
    records = []
    for row, used, opts, values in zip(rows, shown, options, nlls):
        scores = [s / max(n, 1) if loglik_norm == "mean" else s for s, n in values]
        best = int(np.argmin(scores))  # ties: the first option
        pred = opts[best][0]
        records.append({"id": row["id"], "target": row["target"], "pred": pred,
                        "correct": metrics.is_correct(pred, str(row["target"]), metric), "output": opts[best][1],
                        "nll": {label: round(float(s), 6) for (label, _), s in zip(opts, scores)},
                        "demo_ids": [d["id"] for d in used]})
    return records


def predict_generate(model, tokenizer, rows, demos, pc: dict, *, metric: str, max_new_tokens: int, batch_size: int,
                     cache_prefix: bool = True, max_tokens: int | None = None) -> list[dict]:
    """Greedy answers; the answer is extracted by ``metric``."""
    texts, shown = [], []
    for row, ds in zip(rows, demos):
        text, used = fit_prompt(tokenizer, pc, row, ds, max_tokens)
        texts.append(text)
        shown.append(used)
    run = generation.generate_shared if cache_prefix else generation.generate
    outputs = run(model, tokenizer, texts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                  stop_strings=prompts.stop_strings(tokenizer, pc), desc="predict (generate)")
    return to_records(rows, outputs, shown, pc, metric)


def check_options(*, predict_by: str, loglik_norm: str, choice_text: str) -> None:
    for key, value, allowed in (("predict_by", predict_by, PREDICT_BY), ("loglik_norm", loglik_norm, LOGLIK_NORMS),
                                ("choice_text", choice_text, CHOICE_TEXTS)):
        if value not in allowed:
            raise ConfigError(f"icl.{key}", f"must be one of {', '.join(allowed)}, got {value!r}")


def predict_file(model_dir, pool_path, eval_path, demos_path, out_path, *, family: str, metric: str, prompt: dict,
                 model: dict, predict_by: str, loglik_norm: str, choice_text: str, max_new_tokens: int,
                 batch_size: int, cache_prefix: bool, eval_limit: int | None) -> list[dict]:
    check_options(predict_by=predict_by, loglik_norm=loglik_norm, choice_text=choice_text)
    rows = read_eval(eval_path, eval_limit)
    demos = demos_per_row(read_json(demos_path), read_jsonl(pool_path), rows, path=demos_path)
    tokenizer = models.load_tokenizer(model_dir)
    lm = models.load_model(model_dir, quantization=model.get("quantization", "none"), dtype=model.get("dtype", "float32"))
    context = getattr(lm.config, "max_position_embeddings", None)
    pc = prompts.prompt_config(family, prompt)
    if predict_by == "loglik" and family in LOGLIK_FAMILIES:
        records = predict_loglik(lm, tokenizer, rows, demos, pc, metric=metric, loglik_norm=loglik_norm,
                                 choice_text=choice_text, max_tokens=context and context - 32)
    else:
        records = predict_generate(lm, tokenizer, rows, demos, pc, metric=metric, max_new_tokens=max_new_tokens,
                                   batch_size=batch_size, cache_prefix=cache_prefix,
                                   max_tokens=context and context - max_new_tokens)
    cut = sum(len(r["demo_ids"]) < len(d) for r, d in zip(records, demos))
    if cut:
        log.warning("%d prompts were too long for the model's context (%s tokens): demonstrations dropped", cut, context)
    write_jsonl(out_path, records)
    log.info("%s: %d/%d correct, %d unparsed (%s)", out_path, sum(r["correct"] for r in records), len(records),
             sum(r["pred"] is None for r in records),
             "loglik" if predict_by == "loglik" and family in LOGLIK_FAMILIES else "generate")
    return records


# ----------------------------------------------------------------------------- scoring and summary
