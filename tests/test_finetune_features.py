"""Model features of the fine-tuning selection strategies on the real tiny model (SmolLM2-135M), each checked
against a direct computation written from its paper's definition: BADGE's gradient embedding, BALD's mutual
information, RDS+'s pooled hidden state, LESS's projected LoRA gradient."""

import json

import numpy as np
import pytest

from algrid import models, prompts, tokens
from algrid.errors import ConfigError
from algrid.finetune import features
from algrid.io import write_jsonl
from algrid.selection import read_features

ROWS = [
    {"id": "a", "input": "Calculate 12 + 34.", "target": "46", "meta": {}},
    {"id": "b", "input": "Tom has 3 apples and buys 2 more. How many apples?", "target": "5", "meta": {}},
    {"id": "c", "input": "Calculate 7 + 8.", "target": "15", "meta": {}},
]
SCORING = {"max_new_tokens": 6, "batch_size": 1, "fewshot_k": 0}
PC = prompts.prompt_config("math")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("features")
    write_jsonl(root / "rows.jsonl", ROWS)
    write_jsonl(root / "fewshot.jsonl", [])
    return root


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    return models.load_tokenizer(model_dir)


@pytest.fixture(scope="module")
def adapter(model_dir, tmp_path_factory):
    """A LoRA adapter with dropout 0.3 and non-zero weights on both sides (a fresh one adds nothing)."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = get_peft_model(models.load_model(model_dir),
                           LoraConfig(r=4, lora_alpha=8, lora_dropout=0.3, target_modules=["q_proj", "v_proj"],
                                      init_lora_weights=False, task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.mul_(0.05)  # random but small: the adapted model still answers
    out = tmp_path_factory.mktemp("adapter") / "adapter"
    model.save_pretrained(out)
    return out


def run_features(kind, model_dir, files, tmp_path, params, **kwargs):
    out = tmp_path / f"{kind}.npz"
    cost = features.features_file(kind, model_dir, files / "rows.jsonl", out, family="math", prompt={},
                                  model_spec={}, params=params, fewshot_path=files / "fewshot.jsonl",
                                  scoring=SCORING, **kwargs)
    x, stored = read_features(out, [r["id"] for r in ROWS])
    assert stored == cost and cost["rows"] == len(ROWS) and cost["model_calls"] > 0 and cost["seconds"] > 0
    return x, cost


def greedy_answer(model, tokenizer, text):
    """The model's own greedy answer, one prompt at a time, cut at its EOS as pool scoring does."""
    import torch

    ids = tokens.encode(tokenizer, text)
    out = model.generate(input_ids=torch.tensor([ids]), max_new_tokens=SCORING["max_new_tokens"], do_sample=False,
                         pad_token_id=tokenizer.pad_token_id, temperature=None, top_p=None, top_k=None)
    new = out[0, len(ids):].tolist()
    n = next((j for j, t in enumerate(new) if t == tokenizer.eos_token_id), len(new))
    return ids, new[:max(n, 1)]


def test_badge_embedding_is_the_output_layer_gradient_of_the_greedy_answer(model_dir, files, tokenizer, tmp_path):
    """BADGE (Ash et al. 2020, eq. 1): g_x = d loss(f(x), y_hat) / d W_out, with y_hat the model's own prediction
    and W_out the last layer. Here, as the paper's definition taken directly: autograd through logits = h W^T
    with h the output layer's input (held fixed) and loss = mean cross-entropy of the greedy answer.

    Where algrid differs on purpose: the label is a sequence (the greedy answer; the loss its tokens' mean), and
    the [vocab, hidden] gradient is kept as R G, R a seeded Gaussian sketch of the vocabulary side (the paper
    stores g_x whole; a 49k vocabulary makes 28M numbers per row). The direct G here is multiplied by the same R.
    """
    import torch

    params = {"proj_dim": 4, "sketch_seed": 3}
    x, cost = run_features("badge", model_dir, files, tmp_path, params)
    assert cost["model_calls"] == 2 * len(ROWS)
    model = models.load_model(model_dir)
    W = model.get_output_embeddings().weight
    sketch = features.badge_sketch(W.shape[0], 4, 3)
    assert x.shape == (len(ROWS), 4 * W.shape[1])
    for row, got in zip(ROWS, x):
        prompt_ids, answer = greedy_answer(model, tokenizer, prompts.build_prompt(tokenizer, PC, row))
        ids = torch.tensor([prompt_ids + answer])
        with torch.no_grad():
            h = model.model(input_ids=ids).last_hidden_state[0]
            assert torch.allclose(h @ W.T, model(input_ids=ids).logits[0], atol=1e-4)  # h is W's input
        w = W.detach().clone().requires_grad_(True)
        at = slice(len(prompt_ids) - 1, len(prompt_ids) + len(answer) - 1)
        loss = torch.nn.functional.cross_entropy(h[at] @ w.T, torch.tensor(answer))
        (grad,) = torch.autograd.grad(loss, w)
        direct = (sketch @ grad).reshape(-1).numpy()
        np.testing.assert_allclose(got, direct, rtol=1e-3, atol=1e-6 * np.abs(direct).max())


def test_badge_sketch_keeps_squared_distances_in_expectation():
    """E[|R a|^2] = |a|^2 for the Gaussian sketch: over many seeds, the mean is within a few percent."""
    a = np.random.default_rng(0).standard_normal(500).astype(np.float32)
    norms = [float(np.sum((features.badge_sketch(500, 16, s).numpy() @ a) ** 2)) for s in range(200)]
    assert abs(np.mean(norms) / np.sum(a ** 2) - 1) < 0.05


def test_bald_is_the_mutual_information_of_the_answer_tokens(model_dir, files, tokenizer, adapter, tmp_path):
    """BALD (Houlsby et al. 2011, eq. 4; MC dropout: Gal et al. 2017, eq. 2): I[y; w] = H[mean_k p(y|w_k)] -
    mean_k H[p(y|w_k)] over K dropout samples w_k, computed here in float64 from each pass's distribution.

    Where algrid differs on purpose: y is a sequence, so I is taken per answer token along the greedy answer of
    the model without dropout (teacher-forced in every pass) and averaged over its tokens; only the LoRA
    adapter's dropout is sampled (the base model has none to sample). The K passes are drawn the way algrid draws
    them (one batch of K copies, torch seeded per row) so that both sides see the same K masks."""
    import torch

    params = {"passes": 5, "seed": 2}
    x, cost = run_features("bald", model_dir, files, tmp_path, params, adapter=str(adapter), preset="p")
    assert x.shape == (len(ROWS), 1) and cost["model_calls"] == len(ROWS) * 6
    model = models.load_model(model_dir, adapter=adapter)
    for i, (row, got) in enumerate(zip(ROWS, x[:, 0])):
        prompt_ids, answer = greedy_answer(model, tokenizer, prompts.build_prompt(tokenizer, PC, row))
        model.train()  # SmolLM2's own dropout rates are 0: only the adapter's dropout draws masks
        torch.manual_seed(2 * 1_000_003 + i)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([prompt_ids + answer] * 5)).logits
        model.eval()
        at = slice(len(prompt_ids) - 1, len(prompt_ids) + len(answer) - 1)
        p = torch.softmax(logits[:, at].double(), dim=-1).numpy()  # [K, T, vocab]
        assert np.abs(p[0] - p[1]).max() > 1e-6  # the passes differ: dropout is on
        entropy = lambda q: -(q * np.log(np.clip(q, 1e-300, None))).sum(-1)  # noqa: E731
        mi = entropy(p.mean(0)) - entropy(p).mean(0)
        assert got == pytest.approx(mi.mean(), rel=1e-3, abs=1e-7) and got > 0


def test_bald_without_dropout_is_a_config_error(model_dir, files, tmp_path):
    with pytest.raises(ConfigError, match=r"presets\.tiny\.lora_dropout"):
        run_features("bald", model_dir, files, tmp_path, {"passes": 2, "seed": 0}, adapter=None, preset="tiny")


def test_rds_is_the_position_weighted_mean_of_the_final_hidden_states(model_dir, files, tokenizer, tmp_path):
    """RDS+ (Ivison et al. 2025): the final layer's hidden states of the training text, weighted mean pooling
    (position i of L weighs i / sum_j j)."""
    import torch

    x, _ = run_features("rds", model_dir, files, tmp_path, {})
    model = models.load_model(model_dir)
    for row, got in zip(ROWS, x):
        prompt, completion = prompts.training_pair(tokenizer, PC, row)
        ids = tokens.encode(tokenizer, prompt + completion[: -len(tokenizer.eos_token)])
        with torch.no_grad():
            h = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0]
        w = np.arange(1, len(ids) + 1) / (len(ids) * (len(ids) + 1) / 2)
        np.testing.assert_allclose(got, w @ h.numpy(), rtol=1e-3, atol=1e-4)


def test_less_feature_is_the_projected_lora_gradient_of_the_training_loss(model_dir, files, tokenizer, adapter,
                                                                          tmp_path):
    """LESS (Xia et al. 2024, sec. 3): the gradient of a row's training loss with respect to the LoRA weights,
    randomly projected. The direct side: the loss from the logits (mean cross-entropy of the answer tokens, as
    training), torch.autograd over every LoRA weight, times the dense matrix of the same count sketch.
    Where algrid differs on purpose: SGD gradients (not Adam's update direction), a count sketch (not TRAK's
    dense projection)."""
    import torch

    from algrid.train import encode

    x, cost = run_features("less", model_dir, files, tmp_path, {"proj_dim": 32, "sketch_seed": 1},
                           adapter=str(adapter), max_length=128)
    model = models.load_model(model_dir, adapter=adapter, trainable_adapter=True)
    model.eval()
    named = sorted((n, p) for n, p in model.named_parameters() if "lora_" in n)
    size = sum(p.numel() for _, p in named)
    buckets, signs = features.count_sketch(size, 32, 1)
    dense = np.zeros((32, size))
    dense[buckets, np.arange(size)] = signs
    for row, got in zip(ROWS, x):
        example = encode(tokenizer, *prompts.training_pair(tokenizer, PC, row), 128)
        ids, labels = torch.tensor([example["input_ids"]]), torch.tensor(example["labels"])
        logits = model(input_ids=ids).logits[0, :-1]
        keep = labels[1:] != -100
        loss = torch.nn.functional.cross_entropy(logits[keep], labels[1:][keep])
        grads = torch.autograd.grad(loss, [p for _, p in named])
        direct = dense @ torch.cat([g.reshape(-1) for g in grads]).double().numpy()
        np.testing.assert_allclose(got, direct, rtol=1e-3, atol=1e-5 * np.abs(direct).max())


def test_less_warmup_rows_are_a_seeded_fraction_of_the_pool():
    rows = [{"id": str(i)} for i in range(100)]
    picked = features.warmup_rows(rows, 0.05, 0)
    assert len(picked) == 5 and picked == features.warmup_rows(rows, 0.05, 0)
    assert [r["id"] for r in picked] == sorted((r["id"] for r in picked), key=int)
    assert picked != features.warmup_rows(rows, 0.05, 1) and len(features.warmup_rows(rows[:3], 0.05, 0)) == 1


def test_feature_files_record_their_cost_in_the_selection(tmp_path):
    """The selection's resolved parameters carry what its model features cost (summed over its feature files)."""
    from algrid.selection import select_round

    rows = [{"id": str(i), "input": f"q{i}", "target": str(i)} for i in range(6)]
    write_jsonl(tmp_path / "pool.jsonl", rows)
    x = np.random.default_rng(0).standard_normal((6, 3))
    features.write_features(tmp_path / "f.npz", x, [r["id"] for r in rows], {"model_calls": 12, "seconds": 1.5})
    record = select_round({"pool": str(tmp_path / "pool.jsonl"), "features": str(tmp_path / "f.npz")}, tmp_path / "s.json",
                          strategy="badge", k=2, seed=0, params={}, round_=1)
    assert record["params"]["proj_dim"] == 16 and record["params"]["cost"]["model_calls"] == 12
    assert json.loads((tmp_path / "s.json").read_text())["params"]["cost"]["seconds"] == 1.5
    features.write_features(tmp_path / "g.npz", x, ["x"] * 6, {})
    with pytest.raises(ConfigError, match="does not match the pool's ids"):
        select_round({"pool": str(tmp_path / "pool.jsonl"), "features": str(tmp_path / "g.npz")}, tmp_path / "t.json",
                     strategy="badge", k=2, seed=0, params={}, round_=1)
