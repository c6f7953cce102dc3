"""Few-shot greedy prediction on an eval split with a fixed prompt (exemplars never in the pool)."""

import logging

from . import generation, metrics, models, prompts
from .finetune.subsample import subsample
from .io import read_json, write_jsonl

log = logging.getLogger(__name__)


def predict_rows(model, tokenizer, rows, demos, pc: dict, *, metric: str, max_new_tokens: int, batch_size: int,
                 prefix: str | None = None) -> list[dict]:
    texts = [prompts.build_prompt(tokenizer, pc, r, demos=demos, prefix=prefix) for r in rows]
    # the fixed few-shot prefix (or BBH's CoT prompt) is shared by every prompt: computed once, KV-cached
    outputs = generation.generate_shared(model, tokenizer, texts, max_new_tokens=max_new_tokens,
                                         batch_size=batch_size, desc="predict",
                                         stop_strings=prompts.stop_strings(tokenizer, pc))
    return to_records(rows, outputs, [demos] * len(rows), pc, metric)


def to_records(rows, outputs, demos_per_row, pc: dict, metric: str) -> list[dict]:
    """One prediction record per eval row: the cut output, the parsed answer, correctness, demonstration ids."""
    records = []
    for row, out, demos in zip(rows, outputs, demos_per_row):
        text = prompts.cut_output(out, pc)
        pred = metrics.extract_answer(text, metric, row.get("choices"))
        records.append({"id": row["id"], "target": row["target"], "pred": pred,
                        "correct": metrics.is_correct(pred, str(row["target"]), metric), "output": text,
                        "demo_ids": [d["id"] for d in demos]})
    return records


def predict_files(model_dir, suite_path, tasks: list[dict], out_paths: list, *, adapter, model: dict) -> None:
    """Load the model (+ adapter) once and predict every eval task's rows (from the eval suite file);
    ``tasks[i]`` writes ``out_paths[i]``."""
    suite = read_json(suite_path)
    tokenizer = models.load_tokenizer(model_dir)
    lm = models.load_model(model_dir, adapter=adapter, quantization=model["quantization"], dtype=model["dtype"])
    for task, out_path in zip(tasks, out_paths, strict=True):
        data = suite[task["eval_task"]]
        rows, demos, prefix = data["eval"], data["fewshot"][: task["fewshot_k"]], data["prefix"]
        if task.get("subsample"):  # seed 003: a seeded share of the eval split (20% of GSM8K test, seed 42)
            n_split = len(rows)
            rows = subsample(rows, task["subsample"]["fraction"], task["subsample"]["seed"])
            log.info("%s: %d of %d eval rows (fraction %s, seed %s)", task["eval_task"], len(rows), n_split,
                     task["subsample"]["fraction"], task["subsample"]["seed"])
        pc = prompts.prompt_config(task["family"], task["prompt"])
        records = predict_rows(lm, tokenizer, rows, [] if prefix else demos, pc, metric=task["metric"],
                               max_new_tokens=task["max_new_tokens"], batch_size=task["eval_batch_size"], prefix=prefix)
        write_jsonl(out_path, records)
        n_ok = sum(r["correct"] for r in records)
        log.info("%s: %d/%d correct, %d unparsed", out_path, n_ok, len(records), sum(r["pred"] is None for r in records))
