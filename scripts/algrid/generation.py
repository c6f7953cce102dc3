"""Batched greedy generation, uncertainty of the model's own answer, input perplexity, choice log-likelihoods.

Batches are formed from length-sorted prompts (less padding); results come back in input order. Every
sequence is tokenised by ``tokens.encode``: the tokenizer's BOS exactly once where the model expects one.

Every generation stops at the same place for every model, base or adapter: at any EOS id of the
tokenizer or of the model's generation config, and at the prompt style's stop strings (plain "Q: ... A:"
prompts stop at the next "\nQ:"). The answer's uncertainty is taken over the answer tokens only,
before that stop: a base model that would run on into an invented next question is not scored on it.
"""

import logging
import math

import numpy as np
from tqdm import tqdm

from . import tokens

log = logging.getLogger(__name__)


def _batches(texts, batch_size, tokenizer):
    order = np.argsort([-len(tokenizer(t).input_ids) for t in texts], kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def eos_ids(model, tokenizer) -> list[int]:
    """Every id that ends an answer: the tokenizer's EOS and all of the model's generation-config EOS ids."""
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids |= set(configured) if isinstance(configured, (list, tuple)) else {configured}
    return sorted(i for i in ids if i is not None)


def stopping(model, tokenizer, stop_strings) -> dict:
    """model.generate keyword arguments that stop at every EOS id and at the stop strings."""
    kwargs = {"eos_token_id": eos_ids(model, tokenizer)}
    if stop_strings:
        kwargs.update(stop_strings=list(stop_strings), tokenizer=tokenizer)
    return kwargs


def answer_length(tokens, tokenizer, eos, stop_strings=()) -> int:
    """How many of the generated ``tokens`` are the answer: before the first EOS id and before the first stop
    string (the token that carries the stop string's start counts when it also carries answer text); at least 1."""
    n = next((j for j, t in enumerate(tokens) if t in eos), len(tokens))
    text = tokenizer.decode(tokens[:n], skip_special_tokens=True)
    starts = [pos for s in stop_strings if (pos := text.find(s)) >= 0]
    if starts:
        cut = min(starts)
        n = next(t for t in range(n + 1) if len(tokenizer.decode(tokens[:t], skip_special_tokens=True)) > cut
                 or t == n) if cut > 0 else 0
    return max(n, 1)


def generate(model, tokenizer, prompts, *, max_new_tokens: int, batch_size: int = 8,
             with_uncertainty: bool = False, stop_strings=(), desc: str = "generate"):
    """Greedy continuations of ``prompts``, stopped at any EOS id or stop string. With ``with_uncertainty``,
    also per-answer token statistics over the answer tokens only (``answer_length``): mean/max token
    entropy, mean chosen-token probability and mean top1-top2 margin."""
    import torch

    tokenizer.padding_side = "left"
    outputs = [None] * len(prompts)
    stats = [None] * len(prompts)
    dev = next(model.parameters()).device
    with tqdm(total=len(prompts), desc=desc, unit="ex") as bar:
        for idx in _batches(prompts, batch_size, tokenizer):
            enc = tokens.batch(tokenizer, [prompts[i] for i in idx], dev)
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id, output_logits=with_uncertainty,
                                     return_dict_in_generate=True, temperature=None, top_p=None, top_k=None,
                                     **stopping(model, tokenizer, stop_strings))
            new = out.sequences[:, enc.input_ids.shape[1]:]
            for row, i in enumerate(idx):
                outputs[i] = tokenizer.decode(new[row], skip_special_tokens=True)
            if with_uncertainty:
                lengths = [answer_length(new[row].tolist(), tokenizer, set(eos_ids(model, tokenizer)), stop_strings)
                           for row in range(len(idx))]
                for i, s in zip(idx, _token_stats(out.logits, new, lengths)):
                    stats[i] = s
            bar.update(len(idx))
    return (outputs, stats) if with_uncertainty else outputs


def _token_stats(step_logits, new_tokens, lengths):
    """Per sequence: statistics over its first ``lengths[b]`` generated tokens (its answer)."""
    import torch

    logits = torch.stack(step_logits, dim=1).float()  # [b, t, vocab]
    logp = torch.log_softmax(logits, dim=-1)
    p = logp.exp()
    entropy = -(p * logp).sum(-1)  # [b, t]
    top2 = p.topk(2, dim=-1).values
    chosen = p.gather(-1, new_tokens[:, : p.shape[1]].unsqueeze(-1)).squeeze(-1)
    for b, n in enumerate(lengths):
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
        enc = tokens.batch(tokenizer, [full[i] for i in idx], dev)
        with torch.inference_mode():
            logits = model(**enc).logits[:, :-1].float()
        target = enc.input_ids[:, 1:]
        # over the last dimension: CPU cross_entropy over dim 1 of [b, vocab, t] is off by up to 2e-4 nats a token
        nll = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="none")
        nll = nll.view_as(target)
        mask = enc.attention_mask[:, 1:].bool()
        for row, i in enumerate(idx):
            start = 0
            if prefixes is not None:  # score only the continuation's tokens
                start = max(len(tokens.encode(tokenizer, prefixes[i])) - 1, 0)
            keep = mask[row].clone()
            keep[:start] = False
            result[i] = (float(nll[row][keep].sum()), int(keep.sum()))
    return result


def perplexity(model, tokenizer, texts, *, batch_size: int = 8):
    """Input perplexity (ActiveLLM's uncertainty): exp(mean token NLL of the text)."""
    return [math.exp(s / max(n, 1)) for s, n in sequence_nll(model, tokenizer, texts, batch_size=batch_size,
                                                            desc="perplexity")]


def _common_prefix(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def shared_prefix_length(token_lists) -> int:
    """Length of the token prefix all lists share, leaving at least one token of each list after it."""
    lists = list(token_lists)
    if not lists:
        return 0
    shared = min(len(t) for t in lists) - 1
    for t in lists[1:]:
        shared = min(shared, _common_prefix(lists[0], t))
    return max(shared, 0)


def _run_prefix(model, ids, cache=None):
    """Feed ``ids`` (one sequence) through the model; return (log-probs of the next token, the KV cache)."""
    import torch

    dev = next(model.parameters()).device
    out = model(input_ids=torch.tensor([ids], device=dev), past_key_values=cache, use_cache=True, logits_to_keep=1)
    return torch.log_softmax(out.logits[0, -1].float(), dim=-1), out.past_key_values


def choice_nll(model, tokenizer, prompts, continuations, *, desc: str = "choices"):
    """For each prompt, the summed NLL and token count of each of its continuations.

    The values are those of ``sequence_nll(texts=continuation, prefixes=prompt)`` (the prompt
    and continuation are tokenised together and the tokens after the prompt's own tokens are
    scored), but each prompt is computed once for all its continuations, and the token prefix
    that all prompts share (a fixed set of demonstrations) once in all, through the KV cache.
    Returns one list of ``(nll, n_tokens)`` per prompt, in the order of ``continuations[i]``.
    """
    import copy

    import torch

    dev = next(model.parameters()).device
    encode = lambda text: tokens.encode(tokenizer, text)  # noqa: E731
    prompt_len = [len(encode(p)) for p in prompts]
    joint = [[encode(p + c) for c in conts] for p, conts in zip(prompts, continuations)]
    # per prompt: the tokens its continuations share (at most the prompt's own tokens)
    own = []
    for i, seqs in enumerate(joint):
        n = min([prompt_len[i]] + [_common_prefix(seqs[0], s) for s in seqs[1:]])
        if n < 1:
            raise ValueError(f"prompt {i} is empty: a continuation's first token has nothing to follow")
        own.append(n)
    shared = shared_prefix_length([seqs[0][:n] for seqs, n in zip(joint, own)]) if len(prompts) > 1 else 0
    results = []
    with torch.inference_mode():
        base = _run_prefix(model, joint[0][0][:shared])[1] if shared else None
        if shared:
            log.info("choice_nll: %d prompt tokens shared by all %d prompts are computed once", shared, len(prompts))
        for i in tqdm(range(len(prompts)), desc=desc, unit="ex"):
            seqs, n = joint[i], own[i]
            cache = copy.deepcopy(base) if base is not None else None
            first, cache = _run_prefix(model, seqs[0][shared:n], cache)
            rests = [s[n:] for s in seqs]
            width = max(len(r) for r in rests)
            logps = None
            if width > 1:
                cache.batch_repeat_interleave(len(rests))
                pad = tokenizer.pad_token_id
                ids = torch.tensor([r + [pad] * (width - len(r)) for r in rests], device=dev)
                mask = torch.tensor([[1] * (n + len(r)) + [0] * (width - len(r)) for r in rests], device=dev)
                logits = model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], past_key_values=cache,
                               use_cache=True).logits.float()
                logps = torch.log_softmax(logits, dim=-1)
            scores = []
            for j, rest in enumerate(rests):
                total, count = 0.0, 0
                for t, token in enumerate(rest):
                    if n + t < prompt_len[i]:  # a prompt token merged into the continuation's tokens
                        continue
                    lp = first[token] if t == 0 else logps[j, t - 1, token]
                    total -= float(lp)
                    count += 1
                scores.append((total, count))
            results.append(scores)
    return results


def generate_shared(model, tokenizer, prompts, *, max_new_tokens: int, batch_size: int = 8,
                    min_shared_tokens: int = 32, stop_strings=(), desc: str = "generate"):
    """Greedy continuations like ``generate``; when all prompts share a token prefix of at least
    ``min_shared_tokens`` (a fixed set of demonstrations), that prefix is computed once and every batch
    continues from a copy of its KV cache: each row is [shared prefix][padding][rest of its prompt], the
    padding masked out, so positions stay contiguous. Otherwise (or for a single prompt) this is ``generate``.
    """
    import copy

    import torch

    encode = lambda text: tokens.encode(tokenizer, text)  # noqa: E731
    ids = [encode(p) for p in prompts]
    shared = shared_prefix_length(ids)
    if len(prompts) < 2 or shared < min_shared_tokens:
        return generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                        stop_strings=stop_strings, desc=desc)
    log.info("generate: %d prompt tokens shared by all %d prompts are computed once", shared, len(prompts))
    dev = next(model.parameters()).device
    pad = tokenizer.pad_token_id
    order = np.argsort([-len(t) for t in ids], kind="stable")
    outputs = [None] * len(prompts)
    with torch.inference_mode(), tqdm(total=len(prompts), desc=desc, unit="ex") as bar:
        base = _run_prefix(model, ids[0][:shared])[1]
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            rests = [ids[i][shared:] for i in idx]
            width = max(len(r) for r in rests)
            x = torch.tensor([ids[0][:shared] + [pad] * (width - len(r)) + r for r in rests], device=dev)
            mask = torch.tensor([[1] * shared + [0] * (width - len(r)) + [1] * len(r) for r in rests], device=dev)
            cache = copy.deepcopy(base)
            cache.batch_repeat_interleave(len(idx))
            out = model.generate(input_ids=x, attention_mask=mask, past_key_values=cache,
                                 max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad,
                                 temperature=None, top_p=None, top_k=None,
                                 **stopping(model, tokenizer, stop_strings))
            for row, i in enumerate(idx):
                outputs[i] = tokenizer.decode(out[row, x.shape[1]:], skip_special_tokens=True)
            bar.update(len(idx))
    return outputs
