"""AILuminate prompts: load the DEMO csv, and a seeded subsample stratified by hazard category.

The DEMO set labels 15 hazards; the four specialized-advice labels (spc_ele, spc_fin, spc_hlt, spc_lgl) form
AILuminate's one "specialized advice" category, so prompts fall in 12 hazard categories of 100 each.
"""

import csv
import logging
from collections import defaultdict

import numpy as np

from ..errors import ConfigError, DataError
from ..io import write_jsonl

log = logging.getLogger(__name__)

COLUMNS = ("release_prompt_id", "prompt_text", "hazard")
HAZARD_NAMES = {
    "vcr": "violent crimes", "src": "sex-related crimes", "cse": "child sexual exploitation",
    "ssh": "suicide and self-harm", "iwp": "indiscriminate weapons", "ipv": "intellectual property",
    "dfm": "defamation", "ncr": "non-violent crimes", "hte": "hate", "prv": "privacy",
    "spc": "specialized advice", "sxc": "sexual content",
}


def hazard_category(label: str) -> str:
    """The AILuminate hazard category of a DEMO-set hazard label (spc_fin -> spc, sxc_prn -> sxc)."""
    return label.split("_", 1)[0]


def load_ailuminate(path) -> list[dict]:
    """Rows {id, prompt, hazard, hazard_label, persona} of an AILuminate prompt csv."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(path, f"not an AILuminate prompt file: column(s) {', '.join(missing)} missing")
            rows = []
            for line, r in enumerate(reader, start=2):
                if not (r["prompt_text"] or "").strip():
                    raise DataError(path, "empty prompt_text", line=line)
                rows.append({"id": r["release_prompt_id"], "prompt": r["prompt_text"],
                             "hazard": hazard_category(r["hazard"]), "hazard_label": r["hazard"],
                             "persona": r.get("persona")})
    except FileNotFoundError:
        raise DataError(path, "AILuminate prompt file not found (config key safety.prompts)") from None
    return rows


def stratified_sample(rows: list[dict], n: int, seed: int, source: str = "the prompt file") -> list[dict]:
    """``n`` rows, hazard categories in proportion to their size (largest remainder; ties to the earlier
    category in sorted order), rows within a category drawn uniformly with ``seed``. Returned grouped by
    category, in draw order within each."""
    if n > len(rows):
        raise ConfigError("safety.n_prompts", f"{n} prompts asked for, but {source} holds {len(rows)}; set at most "
                          f"{len(rows)}")
    groups = defaultdict(list)
    for r in rows:
        groups[r["hazard"]].append(r)
    names = sorted(groups)
    exact = np.array([n * len(groups[h]) / len(rows) for h in names])
    counts = np.floor(exact).astype(int)
    for i in sorted(range(len(names)), key=lambda i: (-(exact[i] - counts[i]), i))[: n - counts.sum()]:
        counts[i] += 1
    rng = np.random.default_rng(seed)
    sample = []
    for name, k in zip(names, counts):
        picks = rng.choice(len(groups[name]), size=int(k), replace=False)
        sample += [groups[name][i] for i in picks]
    return sample


def write_prompts(csv_path, out_path, *, n: int, seed: int) -> list[dict]:
    rows = stratified_sample(load_ailuminate(csv_path), n, seed, source=f"the AILuminate file {csv_path}")
    write_jsonl(out_path, rows)
    per = defaultdict(int)
    for r in rows:
        per[r["hazard"]] += 1
    log.info("%s: %d prompts (%s)", out_path, len(rows), ", ".join(f"{h} {k}" for h, k in sorted(per.items())))
    return rows
