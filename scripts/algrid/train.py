"""LoRA / QLoRA supervised fine-tuning with the loss on the answer tokens only."""

import json
import logging
import math
import platform
import random
import time
from importlib import metadata
from pathlib import Path

from tqdm import tqdm

from . import models, prompts, tokens
from .errors import ConfigError
from .io import atomic_path

log = logging.getLogger(__name__)

PACKAGES = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "sentence-transformers", "snakemake")


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def encode(tokenizer, prompt: str, completion: str, max_length: int, *, key: str = "presets.max_length",
           row_id=None) -> dict:
    """input_ids with labels = -100 on the prompt (and padding): loss on the answer only.

    An over-long example keeps its whole completion (the answer and its EOS) and loses the prompt's middle:
    the prompt's leading special tokens (a BOS or the chat template's opening ``<|im_start|>``, so the prompt
    still starts as the model expects) are kept, then as much of the prompt's end (the question, next to the
    answer) as fits in ``max_length``. A completion that alone exceeds ``max_length`` is a ``ConfigError``
    naming ``key`` (the preset's ``max_length``) and the row."""
    p = tokens.encode(tokenizer, prompt)
    c = tokens.encode_piece(tokenizer, completion)
    if len(c) > max_length:
        raise ConfigError(key, f"{max_length} tokens, but the answer and EOS of training row "
                          f"{row_id if row_id is not None else '?'} alone take {len(c)}; raise it or shorten "
                          "the answer")
    room = max_length - len(c)
    if len(p) > room:
        special = set(getattr(tokenizer, "all_special_ids", None) or [])
        lead = 0
        while lead < len(p) and p[lead] in special:
            lead += 1
        lead = min(lead, room)
        p = p[:lead] + (p[len(p) - (room - lead):] if room > lead else [])
    return {"input_ids": p + c, "labels": [-100] * len(p) + c}


def collate(batch, pad_id: int):
    import torch

    width = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), width), pad_id)
    labels = torch.full((len(batch), width), -100)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, b in enumerate(batch):
        n = len(b["input_ids"])
        ids[i, :n] = torch.tensor(b["input_ids"])
        labels[i, :n] = torch.tensor(b["labels"])
        mask[i, :n] = 1
    return ids, labels, mask


def checkpoint_steps(steps: int, n: int, *, key: str = "presets.max_checkpoints") -> list[int]:
    """The optimizer steps after which the n checkpoints of a sweep are saved: evenly spaced, the last one
    the end of training (so checkpoint n holds the final adapter's weights)."""
    if n > steps:
        raise ConfigError(key, f"{n} checkpoints but training makes only {steps} optimizer steps; "
                          "lower it or train on more data")
    return [math.ceil(steps * i / n) for i in range(1, n + 1)]


def save_adapter(model, directory) -> None:
    """PEFT's save_pretrained, with adapter_config.json's target_modules sorted: PEFT keeps them as a set, whose
    order follows PYTHONHASHSEED, so two identical runs would write different bytes."""
    model.save_pretrained(directory)
    config_path = Path(directory) / "adapter_config.json"
    config = json.loads(config_path.read_text())
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True))


def save_checkpoint(model, out_dir, info: dict) -> None:
    with atomic_path(out_dir) as tmp:
        save_adapter(model, tmp)
        (tmp / "checkpoint.json").write_text(json.dumps(info, indent=2))
    log.info("checkpoint %s at step %d", out_dir, info["step"])


def train_adapter(model_dir, rows, pc: dict, out_dir, *, params: dict, init_adapter=None, seed: int = 0,
                  extra_record: dict | None = None, checkpoints=(), checkpoint_key="presets.max_checkpoints") -> dict:
    """Train a LoRA adapter on ``rows`` and write it (+ train_log.json, resolved.json) to ``out_dir``; with
    ``checkpoints`` (directories), also the adapter at evenly spaced steps (a checkpoint sweep)."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    random.seed(seed)
    torch.manual_seed(seed)
    tokenizer = models.load_tokenizer(model_dir)
    quant = params.get("quantization", "none")
    model = models.load_model(model_dir, quantization=quant, dtype=params.get("dtype", "float32"),
                              adapter=init_adapter, trainable_adapter=init_adapter is not None)
    if init_adapter is None:
        if quant == "nf4":
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        lora = LoraConfig(r=params["lora_r"], lora_alpha=params["lora_alpha"], lora_dropout=params["lora_dropout"],
                          target_modules=list(params["target_modules"]), task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
    model.train()
    length_key = checkpoint_key.rsplit(".", 1)[0] + ".max_length"  # presets.<preset>.max_length
    examples = [encode(tokenizer, *prompts.training_pair(tokenizer, pc, r), params["max_length"], key=length_key,
                       row_id=r.get("id")) for r in rows]
    n_answer = sum(sum(1 for x in e["labels"] if x != -100) for e in examples)
    log.info("training on %d examples (%d answer tokens), %d epochs", len(examples), n_answer, params["epochs"])

    bs, accum = params["batch_size"], params.get("grad_accum", 1)
    steps = math.ceil(len(examples) / bs / accum) * params["epochs"]
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=params["lr"],
                              weight_decay=params.get("weight_decay", 0.0))
    warmup = int(params.get("warmup_ratio", 0.0) * steps)
    saves = dict(zip(checkpoint_steps(steps, len(checkpoints), key=checkpoint_key), checkpoints)) if checkpoints else {}
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: (s + 1) / max(warmup, 1) if s < warmup else max(0.0, (steps - s) / max(steps - warmup, 1)))
    dev = next(model.parameters()).device
    history, step, started = [], 0, time.time()
    order = list(range(len(examples)))
    with tqdm(total=steps, desc="train", unit="step") as bar:
        for epoch in range(params["epochs"]):
            random.Random(seed + epoch).shuffle(order)
            batches = [order[i : i + bs] for i in range(0, len(order), bs)]
            for b, chunk in enumerate(batches):
                ids, labels, mask = (t.to(dev) for t in collate([examples[i] for i in chunk], tokenizer.pad_token_id))
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
                (loss / accum).backward()
                if (b + 1) % accum == 0 or b == len(batches) - 1:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), params.get("max_grad_norm", 1.0))
                    optim.step()
                    sched.step()
                    optim.zero_grad()
                    step += 1
                    history.append({"step": step, "epoch": epoch, "loss": loss.item(), "lr": sched.get_last_lr()[0]})
                    bar.set_postfix(loss=f"{loss.item():.3f}")
                    bar.update(1)
                    if step in saves:
                        save_checkpoint(model, saves[step], {"step": step, "of_steps": steps, "epoch": epoch,
                                                             "loss": loss.item(), "seed": seed})
    seconds = time.time() - started
    n_tokens = sum(len(e["input_ids"]) for e in examples) * params["epochs"]  # tokens trained on (padding not counted)
    record = {"params": params, "seed": seed, "n_examples": len(examples), "n_answer_tokens": n_answer,
              "n_train_tokens": n_tokens,
              "init_adapter": str(init_adapter) if init_adapter else None, "train_seconds": round(seconds, 2),
              "final_loss": history[-1]["loss"] if history else None, "versions": package_versions(),
              **(extra_record or {})}
    with atomic_path(out_dir) as tmp:
        save_adapter(model, tmp)
        (tmp / "train_log.json").write_text(json.dumps(history, indent=1))
        (tmp / "resolved.json").write_text(json.dumps(record, indent=2))
    log.info("adapter written to %s in %.1fs, final loss %s", out_dir, seconds, record["final_loss"])
    return record


def train_round(model_dir, pool_path, selected_path, out_dir, *, init_adapter, family, prompt, model_spec, preset,
                seed, checkpoints=(), checkpoint_key="presets.max_checkpoints") -> dict:
    """Train on everything selected so far; with ``retrain: continue``, on this round's picks from the
    previous round's adapter (it has seen the earlier ones)."""
    from .io import read_json, read_jsonl

    pool = read_jsonl(pool_path)
    selected = read_json(selected_path)
    indices = selected["indices"] if init_adapter else selected["cumulative_indices"]
    params = {**preset, "quantization": model_spec.get("quantization", "none"),
              "dtype": model_spec.get("dtype", "float32")}
    return train_adapter(model_dir, [pool[i] for i in indices], prompts.prompt_config(family, prompt), out_dir,
                         params=params, init_adapter=init_adapter, seed=seed, checkpoints=checkpoints,
                         checkpoint_key=checkpoint_key,
                         extra_record={"train_ids": [pool[i]["id"] for i in indices], "selection": str(selected_path)})
