"""Every sequence a model scores or continues starts with the tokenizer's BOS exactly once where the tokenizer
adds one by default (Gemma 3), never doubled after a chat template that writes it, never added where the
tokenizer adds none (SmolLM2); and on Gemma the BOS is load-bearing: its greedy answers change without it."""

import copy

import pytest
import torch
from algrid import generation, models, prompts, tokens, train
from algrid.icl import options

# Gemma 3's turn format (its GGUF here ships no chat template); like Gemma's own template it writes the BOS
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
    "{{ m['content'] }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
QUESTIONS = ["Q: What is the capital of France?\nA:", "Q: Is the sky blue?\nA:", "Q: What is 2 plus 3?\nA:"]
ROW = {"id": "r0", "input": "What is the capital of France?", "target": "Paris", "meta": {}}


@pytest.fixture(scope="module")
def gemma(gemma_dir):
    return models.load_tokenizer(gemma_dir), models.load_model(gemma_dir)


@pytest.fixture(scope="module")
def smol_tok(model_dir):
    return models.load_tokenizer(model_dir)


def without_bos(tok):
    """The same tokenizer with algrid's BOS handling switched off (the code before the fix)."""
    plain = copy.deepcopy(tok)
    plain._algrid_bos = None
    return plain


def test_bos_once_plain_and_after_a_template_that_writes_it(gemma):
    tok, _ = gemma
    bos = tok.bos_token_id
    assert tokens.bos_id(tok) == bos == 2
    ids = tokens.encode(tok, QUESTIONS[0])
    assert ids[0] == bos and ids.count(bos) == 1
    assert ids[1:] == tok(QUESTIONS[0], add_special_tokens=False).input_ids
    chat = copy.deepcopy(tok)
    chat.chat_template = GEMMA_TEMPLATE
    pc = prompts.prompt_config("classification")
    text = prompts.build_prompt(chat, pc, ROW, demos=[ROW])
    assert text.startswith("<bos>")
    assert tokens.encode(chat, text).count(bos) == 1
    assert tokens.encode_piece(tok, " Paris") == tok(" Paris", add_special_tokens=False).input_ids
    assert bos not in tokens.encode_piece(tok, " Paris")


def test_no_bos_where_the_tokenizer_adds_none(smol_tok):
    assert tokens.bos_id(smol_tok) is None
    text = prompts.build_prompt(smol_tok, prompts.prompt_config("classification"), ROW)
    assert tokens.encode(smol_tok, text) == smol_tok(text, add_special_tokens=False).input_ids


def test_training_rows_start_with_one_bos_and_completion_has_none(gemma):
    tok, _ = gemma
    pc = prompts.prompt_config("bbh")
    prompt, completion = prompts.training_pair(tok, pc, ROW)
    enc = train.encode(tok, prompt, completion, 128)
    assert enc["input_ids"][0] == tok.bos_token_id and enc["input_ids"].count(tok.bos_token_id) == 1
    n_answer = sum(label != -100 for label in enc["labels"])
    assert enc["labels"][-n_answer:] == tokens.encode_piece(tok, completion)
    # an over-long prompt keeps its BOS in front of the question's end
    short = train.encode(tok, "word " * 200 + prompt, completion, n_answer + 6)
    assert short["input_ids"][0] == tok.bos_token_id and len(short["input_ids"]) == n_answer + 6
    # demonstrations are fitted to a length that counts the BOS
    text, _ = options.fit_prompt(tok, pc, ROW, [ROW] * 3, len(tokens.encode(tok, prompt)) + 1)
    assert text == prompt


def manual_nll(model, ids, start):
    """Summed NLL of ids[start:] given ids[:start], by one plain forward pass."""
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), dim=-1)
    return -sum(float(logp[t - 1, ids[t]]) for t in range(start, len(ids)))


def test_scoring_paths_score_the_sequence_with_bos(gemma):
    tok, model = gemma
    prompt, answers = QUESTIONS[0], [" Paris", " London"]
    expected = [manual_nll(model, tokens.encode(tok, prompt + a), len(tokens.encode(tok, prompt))) for a in answers]
    seq = generation.sequence_nll(model, tok, answers, prefixes=[prompt] * 2, batch_size=2)
    choices = generation.choice_nll(model, tok, [prompt], [answers])[0]
    for (nll, _), (c_nll, _), e in zip(seq, choices, expected):
        assert nll == pytest.approx(e, abs=2e-3) and c_nll == pytest.approx(e, abs=2e-3)
    assert seq[0][0] < seq[1][0]  # with BOS the model prefers Paris
    plain = generation.sequence_nll(model, without_bos(tok), answers, prefixes=[prompt] * 2, batch_size=2)
    assert abs(plain[0][0] - seq[0][0]) > 0.1  # the BOS changes the scores


def test_gemma_greedy_answers_need_bos(gemma):
    tok, model = gemma
    with_bos = generation.generate(model, tok, QUESTIONS, max_new_tokens=6, batch_size=2,
                                   stop_strings=(prompts.STOP_QA,))
    plain = generation.generate(model, without_bos(tok), QUESTIONS, max_new_tokens=6, batch_size=2,
                                stop_strings=(prompts.STOP_QA,))
    assert "Paris" in with_bos[0]
    assert all(a != b for a, b in zip(with_bos, plain)), (with_bos, plain)
    # shared-prefix generation (a fixed demonstration set computed once) gives the same answers, BOS included
    demos = "Q: What is the capital of Italy?\nA: The capital of Italy is Rome.\n\n"
    texts = [demos + q for q in QUESTIONS[:2]]
    shared = generation.generate_shared(model, tok, texts, max_new_tokens=6, batch_size=2, min_shared_tokens=4,
                                        stop_strings=(prompts.STOP_QA,))
    assert shared == generation.generate(model, tok, texts, max_new_tokens=6, batch_size=2,
                                         stop_strings=(prompts.STOP_QA,))
