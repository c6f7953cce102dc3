"""Batched greedy generation, uncertainty of the model's own answer, input perplexity, choice log-likelihoods.

Batches are formed from length-sorted prompts (less padding); results come back in input order.
"""

import logging
import math

import numpy as np
from tqdm import tqdm

log = logging.getLogger(__name__)


def _batches(texts, batch_size, tokenizer):
    order = np.argsort([-len(tokenizer(t).input_ids) for t in texts], kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def generate(model, tokenizer, prompts, *, max_new_tokens: int, batch_size: int = 8,
             with_uncertainty: bool = False, desc: str = "generate"):
    """Greedy continuations of ``prompts``. With ``with_uncertainty``, also per-answer token statistics:
    mean/max token entropy, mean chosen-token probability and mean top1-top2 margin."""
    import torch

    tokenizer.padding_side = "left"
    outputs = [None] * len(prompts)
    stats = [None] * len(prompts)
    dev = next(model.parameters()).device
    with tqdm(total=len(prompts), desc=desc, unit="ex") as bar:
        for idx in _batches(prompts, batch_size, tokenizer):
            enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True,
                            add_special_tokens=False).to(dev)
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id, output_logits=with_uncertainty,
                                     return_dict_in_generate=True, temperature=None, top_p=None, top_k=None)
            new = out.sequences[:, enc.input_ids.shape[1]:]
            for row, i in enumerate(idx):
                outputs[i] = tokenizer.decode(new[row], skip_special_tokens=True)
            if with_uncertainty:
                for i, s in zip(idx, _token_stats(out.logits, new, tokenizer)):
                    stats[i] = s
            bar.update(len(idx))
    return (outputs, stats) if with_uncertainty else outputs


def _token_stats(step_logits, new_tokens, tokenizer):
    """Per sequence: statistics over its generated tokens up to and including EOS."""
    import torch

    logits = torch.stack(step_logits, dim=1).float()  # [b, t, vocab]
    logp = torch.log_softmax(logits, dim=-1)
    p = logp.exp()
    entropy = -(p * logp).sum(-1)  # [b, t]
    top2 = p.topk(2, dim=-1).values
    chosen = p.gather(-1, new_tokens[:, : p.shape[1]].unsqueeze(-1)).squeeze(-1)
    eos = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    for b in range(new_tokens.shape[0]):
        toks = new_tokens[b].tolist()
        n = next((j + 1 for j, t in enumerate(toks) if t in eos), len(toks))
        yield {
            "entropy": float(entropy[b, :n].mean()),
            "max_entropy": float(entropy[b, :n].max()),
            "least_confidence": float(1.0 - chosen[b, :n].mean()),
            "margin": float((top2[b, :n, 0] - top2[b, :n, 1]).mean()),
            "n_tokens": n,
        }


def sequence_nll(model, tokenizer, texts, *, batch_size: int = 8, prefixes=None, desc: str = "nll"):
    """Summed negative log-likelihood and token count of each text (or of text after its prefix)."""
    import torch

    tokenizer.padding_side = "right"
    dev = next(model.parameters()).device
    full = [p + t for p, t in zip(prefixes, texts)] if prefixes is not None else list(texts)
    result = [None] * len(full)
    for idx in tqdm(list(_batches(full, batch_size, tokenizer)), desc=desc, unit="batch"):
        enc = tokenizer([full[i] for i in idx], return_tensors="pt", padding=True,
                        add_special_tokens=False).to(dev)
        with torch.inference_mode():
            logits = model(**enc).logits[:, :-1].float()
        target = enc.input_ids[:, 1:]
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none")
        mask = enc.attention_mask[:, 1:].bool()
        for row, i in enumerate(idx):
            start = 0
            if prefixes is not None:  # score only the continuation's tokens
                start = max(len(tokenizer(prefixes[i], add_special_tokens=False).input_ids) - 1, 0)
            keep = mask[row].clone()
            keep[:start] = False
            result[i] = (float(nll[row][keep].sum()), int(keep.sum()))
    return result


def perplexity(model, tokenizer, texts, *, batch_size: int = 8):
    """Input perplexity (ActiveLLM's uncertainty): exp(mean token NLL of the text)."""
    return [math.exp(s / max(n, 1)) for s, n in sequence_nll(model, tokenizer, texts, batch_size=batch_size,
                                                            desc="perplexity")]
