"""Text -> the token ids a model scores or continues: every sequence starts with the tokenizer's BOS
exactly once when the tokenizer adds one by default (Gemma's ``<bos>``, Llama 3's ``<|begin_of_text|>``).

Prompts are built as text (a chat template may already write the BOS into it), so they are tokenised
without special tokens and the BOS is put in front only where it is missing: never doubled after a
template that has it, never added for a tokenizer that adds none (SmolLM2).
"""


def bos_id(tokenizer) -> int | None:
    """The BOS id when ``tokenizer`` puts one in front of text by default, else None (cached on the tokenizer)."""
    cached = getattr(tokenizer, "_algrid_bos", "unset")
    if cached != "unset":
        return cached
    bos = getattr(tokenizer, "bos_token_id", None)  # a tokenizer without one (a test double) adds none
    found = bos if bos is not None and tokenizer("a").input_ids[:1] == [bos] else None
    try:
        tokenizer._algrid_bos = found
    except AttributeError:  # a tokenizer that takes no new attributes: recomputed each time
        pass
    return found


def with_bos(tokenizer, ids: list[int]) -> list[int]:
    bos = bos_id(tokenizer)
    return [bos] + ids if bos is not None and ids[:1] != [bos] else ids


def encode(tokenizer, text: str) -> list[int]:
    """The ids of a whole sequence (a prompt, or prompt and continuation): BOS once where the model expects it."""
    return with_bos(tokenizer, tokenizer(text, add_special_tokens=False).input_ids)


def encode_piece(tokenizer, text: str) -> list[int]:
    """The ids of text that continues a sequence (an answer, a completion): never a BOS."""
    return tokenizer(text, add_special_tokens=False).input_ids


def batch(tokenizer, texts, device):
    """Padded ``input_ids`` and ``attention_mask`` tensors of whole sequences, on ``tokenizer.padding_side``."""
    enc = tokenizer.pad({"input_ids": [encode(tokenizer, t) for t in texts]}, padding=True, return_tensors="pt")
    return enc.to(device)
