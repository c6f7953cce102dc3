"""In-context learning (seed 000, "ActiveLLM"): choose demonstrations from a task's pool with a
selection strategy, build few-shot prompts in the task's format, predict with no training, score.

Demonstrations
    A strategy picks k pool rows: one set shared by every eval row (random, kmeans,
    perplexity_high, entropy, ...), or one set per eval row for per-query strategies
    (similarity, bm25: ``Strategy.select_per_query``, the eval inputs are the queries).
    Pool and eval rows never share an input: prepare_dataset drops such pool rows and
    ``select_demos`` checks again. Demonstrations appear in the prompt in the order the
    strategy returns them (per query: the most relevant first). If a prompt would not fit
    the model's context, the last demonstrations are dropped; ``demo_ids`` in the
    predictions are the ones actually shown.

Prediction (``predict_by``)
    ``loglik`` (classification and multichoice only; other families always generate): the
    answer whose continuation after the prompt has the lowest NLL, normalised by
    ``loglik_norm``: ``mean`` (per token, the default) or ``sum``. Classification scores
    each verbaliser; multichoice scores the letter in the family's bare-answer format, "(A)"
    (``choice_text: letter``, the default), or the option text (``choice_text: option``,
    demonstrations then answer with the option text). Demonstrations show bare answers (no
    rationale) so that the prompt teaches exactly the format that is scored.
    ``generate``: greedy decoding; demonstrations answer with their rationale where the pool
    has one (math: "<rationale>\\n#### N", BBH: "Q: ... A: Let's think step by step. <rationale
    or 'So the answer is X.'>"); the answer is extracted by the task's metric. BBH tasks do not
    use their fixed CoT prompt file here: the demonstrations come from the pool.

Scoring
    ``metrics.score`` with the task's metric, exactly as the finetune family's eval
    (accuracy over all eval rows, unparsed answers wrong; macro-F1 for label/choice, ROUGE-L of
    the output against the reference target for text), plus the mean rating of a judge model
    where one is configured (``algrid.judge``).
"""

import logging

import numpy as np

from . import generation, metrics, models, prompts, strategies
from .errors import ConfigError, DataError
from .evaluate import item_correctness
from .io import atomic_path, read_json, read_jsonl, write_json, write_jsonl
from .predict import to_records

log = logging.getLogger(__name__)

LOGLIK_FAMILIES = ("classification", "multichoice")
PREDICT_BY = ("loglik", "generate")
LOGLIK_NORMS = ("mean", "sum")
CHOICE_TEXTS = ("letter", "option")
LETTERS = "ABCDEFGHIJ"
SCORE_COLUMNS = ("accuracy", "macro_f1", "rouge_l", "judge_score")
SUMMARY_KEYS = ["family", "task", "model", "strategy", "shots", "eval_task", "metric"]


# ----------------------------------------------------------------------------- selection


def read_eval(path, limit: int | None) -> list[dict]:
    """The eval rows a run uses: the first ``limit`` rows of the eval split (all when None)."""
    rows = read_jsonl(path)
    return rows[:limit] if limit else rows


def _comparable(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def load_pool(inputs: dict, pool_rows: list[dict], queries: list[dict], needs: frozenset) -> strategies.Pool:
    """The strategy's view of the pool: only the inputs it ``needs`` (scores, embeddings, texts, queries)."""
    scores = embeddings = query_embeddings = None
    if "scores" in needs:
        import pandas as pd

        scores = pd.read_parquet(inputs["scores"])
        if list(scores["id"]) != [r["id"] for r in pool_rows]:
            raise DataError(inputs["scores"], "its ids do not match the pool's; rebuild it")
    if "embeddings" in needs:
        embeddings = np.load(inputs["embeddings"])
        if len(embeddings) != len(pool_rows):
            raise DataError(inputs["embeddings"], f"{len(embeddings)} rows for a pool of {len(pool_rows)}; rebuild it")
        if "queries" in needs:
            query_embeddings = np.load(inputs["query_embeddings"])
            if len(query_embeddings) < len(queries):
                raise DataError(inputs["query_embeddings"],
                                f"{len(query_embeddings)} rows for {len(queries)} eval rows; rebuild it")
            query_embeddings = query_embeddings[: len(queries)]
    texts = [r["input"] for r in pool_rows] if "texts" in needs else None
    query_texts = [q["input"] for q in queries] if "queries" in needs and "texts" in needs else None
    return strategies.Pool(n=len(pool_rows), selected=np.zeros(0, dtype=np.int64), scores=scores,
                           embeddings=embeddings, texts=texts, query_texts=query_texts,
                           query_embeddings=query_embeddings)


def select_demos(inputs: dict, out_path, *, strategy: str, k: int, seed: int, params: dict,
                 eval_limit: int | None) -> dict:
    """Pick k demonstrations (one set, or one set per eval row for per-query strategies) -> demos.json."""
    pool_rows = read_jsonl(inputs["pool"])
    all_eval = read_jsonl(inputs["eval"])
    queries = all_eval[:eval_limit] if eval_limit else all_eval
    if k > len(pool_rows):
        raise ConfigError("icl.shots", f"{k} shots but the pool {inputs['pool']} has {len(pool_rows)} rows")
    chosen = strategies.get(strategy)
    pool = load_pool(inputs, pool_rows, queries, chosen.needs)
    record = {"strategy": strategy, "k": k, "seed": seed, "params": params, "per_query": chosen.per_query,
              "pool_size": len(pool_rows), "n_eval": len(queries)}
    if chosen.per_query:
        lists = chosen.select_per_query(k, pool, seed, **params)
        record["queries"] = [{"id": q["id"], "indices": picks, "ids": [pool_rows[i]["id"] for i in picks]}
                             for q, picks in zip(queries, lists)]
        used = {i for picks in lists for i in picks}
    else:
        selection = chosen.select(k, pool, seed, **params)
        record["indices"] = selection.indices
        record["ids"] = [pool_rows[i]["id"] for i in selection.indices]
        record["info"] = selection.info
        used = set(selection.indices)
    eval_ids = {r["id"] for r in all_eval}
    eval_inputs = {_comparable(r["input"]) for r in all_eval}
    for i in sorted(used):
        if pool_rows[i]["id"] in eval_ids or _comparable(pool_rows[i]["input"]) in eval_inputs:
            raise DataError(inputs["pool"], f"demonstration '{pool_rows[i]['id']}' also occurs in the eval split "
                            f"{inputs['eval']}; rebuild the task's data (prepare_dataset removes overlaps)")
    record["n_distinct_demos"] = len(used)
    write_json(out_path, record)
    log.info("%s: %d shots, %s, %d distinct demonstrations from a pool of %d", strategy, k,
             "one set per eval row" if chosen.per_query else "one set", len(used), len(pool_rows))
    return record


def demos_per_row(record: dict, pool_rows: list[dict], rows: list[dict], *, path="demos.json") -> list[list[dict]]:
    """Each eval row's demonstration rows, from a demos.json record."""
    def fetch(indices, ids):
        if any(i >= len(pool_rows) or pool_rows[i]["id"] != d for i, d in zip(indices, ids)):
            raise DataError(path, "its demonstrations do not match the pool's rows; rebuild it")
        return [pool_rows[i] for i in indices]

    if not record["per_query"]:
        demos = fetch(record["indices"], record["ids"])
        return [demos for _ in rows]
    by_id = {q["id"]: q for q in record["queries"]}
    missing = [r["id"] for r in rows if r["id"] not in by_id]
    if missing:
        raise DataError(path, f"no demonstrations for eval row '{missing[0]}' ({len(missing)} rows); rebuild it")
    return [fetch(by_id[r["id"]]["indices"], by_id[r["id"]]["ids"]) for r in rows]


# ----------------------------------------------------------------------------- prompts


def _bare(row: dict) -> dict:
    """A row without its rationale: it answers in the family's bare-answer format."""
    meta = {k: v for k, v in (row.get("meta") or {}).items() if k != "rationale"}
    return {**row, "meta": meta}


def loglik_prompt_config(pc: dict, choice_text: str) -> dict:
    if pc["family"] == "multichoice" and choice_text == "option":
        return {**pc, "bare_answer": "{target}"}
    return pc


def _as_option_text(row: dict) -> dict:
    """Multichoice row whose target is the text of its correct option (choice_text: option)."""
    letter = str(row["target"]).strip("() ")
    index = LETTERS.find(letter)
    if index < 0 or index >= len(row.get("choices") or []):
        raise DataError("demonstrations", f"row '{row['id']}' has target '{row['target']}' outside its choices")
    return {**row, "target": row["choices"][index]}


def answer_options(row: dict, pc: dict, choice_text: str) -> list[tuple[str, str]]:
    """(prediction, answer text) for every answer a loglik prediction compares."""
    choices = row.get("choices") or []
    if not choices:
        raise DataError("eval", f"row '{row['id']}' has no choices to compare (family {pc['family']})")
    if pc["family"] == "classification":
        return [(v, prompts.format_answer({"target": v}, pc)) for v in choices]
    if choice_text == "option":
        return [(LETTERS[i], c) for i, c in enumerate(choices)]
    return [(LETTERS[i], prompts.format_answer({"target": LETTERS[i]}, pc)) for i in range(len(choices))]


def loglik_demo(row: dict, pc: dict, choice_text: str) -> dict:
    row = _bare(row)
    return _as_option_text(row) if pc["family"] == "multichoice" and choice_text == "option" else row


def fit_prompt(tokenizer, pc: dict, row: dict, demos: list[dict], max_tokens: int | None) -> tuple[str, list[dict]]:
    """The prompt with as many of ``demos`` (kept from the front) as fit in ``max_tokens``."""
    demos = list(demos)
    text = prompts.build_prompt(tokenizer, pc, row, demos=demos)
    while max_tokens and demos and len(tokenizer(text, add_special_tokens=False).input_ids) > max_tokens:
        demos.pop()
        text = prompts.build_prompt(tokenizer, pc, row, demos=demos)
    return text, demos


# ----------------------------------------------------------------------------- prediction


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


def score_file(predictions_path, out_path, *, metric: str, identity: dict, judgments_path=None) -> dict:
    """metrics.json: the run's identity columns + the finetune family's metrics + each eval row's result
    (``item_ids``, ``item_correct``, for the statistics over items) (+ the judge's mean rating)."""
    records = read_jsonl(predictions_path)
    result = {**identity, "metric": metric, **metrics.score(records, metric),
              **item_correctness(records, metric, path=predictions_path)}
    result["n_distinct_demos"] = len({d for r in records for d in r.get("demo_ids", [])})
    if judgments_path:
        ratings = [j["rating"] for j in read_jsonl(judgments_path)]
        parsed = [r for r in ratings if r is not None]
        result["judge_score"] = float(np.mean(parsed)) if parsed else None
        result["judge_n_unparsed"] = len(ratings) - len(parsed)
    write_json(out_path, result)
    log.info("%s: accuracy %.3f (%d/%d)", out_path, result["accuracy"], result["n_correct"], result["n_total"])
    return result


def summarize(metric_files, out_path):
    """One row per task x model x strategy x shots: the accuracy's bootstrap interval over seeds and items and
    the paired comparison with ``random`` (``stats.summarise``), and a t-interval over seeds of macro-F1,
    ROUGE-L and the judge's rating where the task has them (``seed_ci_method``)."""
    import pandas as pd

    from . import stats
    from .aggregate import INTERNAL, read_metrics

    frame = read_metrics(metric_files)
    if frame.empty:
        summary = pd.DataFrame(columns=SUMMARY_KEYS + stats.STAT_COLUMNS)
    else:
        summary = stats.summarise(frame)
        frame = frame.drop(columns=INTERNAL, errors="ignore")
        keys = [k for k in stats.CELL if k in frame]
        extra = []
        for values, group in frame.groupby(keys, dropna=False, sort=True):
            row = dict(zip(keys, values))
            row["seeds"] = " ".join(str(s) for s in sorted(group["seed"]))
            row["n_total"] = int(group["n_total"].min())
            for column in SCORE_COLUMNS[1:]:
                if column in group and group[column].notna().any():
                    mean, std, lo, hi = stats.t_interval(group[column].dropna())
                    row.update({f"{column}_mean": mean, f"{column}_std": std, f"{column}_ci_low": lo,
                                f"{column}_ci_high": hi, "seed_ci_method": stats.T_METHOD})
            extra.append(row)
        summary = summary.merge(pd.DataFrame(extra), on=keys, how="left")
    with atomic_path(out_path) as tmp:
        summary.to_csv(tmp, index=False)
    log.info("%d cells over %d metrics files -> %s", len(summary), len(frame), out_path)
    return summary


def plot_summary(summary_path, out_path) -> None:
    """Accuracy of each (model, shots, strategy) cell with its 95% bootstrap interval over seeds and eval items
    (``plots.icl_figure``): one panel per task."""
    import pandas as pd

    from .plots import icl_figure, save

    save(icl_figure(pd.read_csv(summary_path)), out_path)
