"""The retrieval corpus: every distinct text at the configured paths of a json/jsonl file's records, one
{id, text} per line of results/ads/corpus.jsonl (``ads.corpus``; default StrategyQA's train facts)."""

import json
import logging

from ..errors import DataError
from ..io import atomic_path

log = logging.getLogger(__name__)


def _walk(obj, path: list[str]):
    """Strings at a dotted path; lists are flattened ("facts" of a StrategyQA record is a list of sentences)."""
    if not path:
        if isinstance(obj, list):
            for x in obj:
                yield from _walk(x, [])
        elif isinstance(obj, str) and obj.strip():
            yield obj.strip()
        return
    if isinstance(obj, list):
        for x in obj:
            yield from _walk(x, path)
    elif isinstance(obj, dict) and path[0] in obj:
        yield from _walk(obj[path[0]], path[1:])


def build_corpus(spec: dict, out_path, *, data_root: str, key: str = "ads.corpus") -> list[dict]:
    """corpus.jsonl: one {id, text} per distinct text at ``spec.text`` paths of the records of ``spec.path``."""
    path = spec["path"].replace("{data_root}", str(data_root))
    try:
        with open(path) as f:
            records = [json.loads(line) for line in f if line.strip()] if path.endswith(".jsonl") else json.load(f)
    except FileNotFoundError:
        raise DataError(path, f"corpus file not found ({key}.path)") from None
    except json.JSONDecodeError as err:
        raise DataError(path, f"not valid JSON: {err.msg}", line=err.lineno) from None
    for part in (spec.get("records") or "").split(".") if spec.get("records") else []:
        records = records.get(part, []) if isinstance(records, dict) else []
    texts = {}
    for record in records if isinstance(records, list) else []:
        for text_path in spec["text"]:
            for text in _walk(record, text_path.split(".")):
                texts.setdefault(" ".join(text.split()), None)
    limit = spec.get("limit")
    docs = [{"id": f"doc-{i}", "text": t} for i, t in enumerate(list(texts)[:limit] if limit else texts)]
    if not docs:
        raise DataError(path, f"the corpus is empty: no text at {spec['text']} ({key}); retrieval needs documents")
    with atomic_path(out_path) as tmp:
        tmp.write_text("".join(json.dumps(d) + "\n" for d in docs))
    log.info("%d documents -> %s", len(docs), out_path)
    return docs
