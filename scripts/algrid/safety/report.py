"""Tables and a figure for the report: judges against human labels, and the standalone safety grid."""

import logging

import pandas as pd

from ..io import read_json, write_text

log = logging.getLogger(__name__)

METRICS = ("accuracy", "precision", "recall", "f1", "kappa")


def validation_rows(report: dict) -> list[dict]:
    """One row per set for the algrid judge, and one per PyRIT published line measured on the same rows (``line``:
    its place in the set's published metrics file, so lines with equal figures stay apart)."""
    rows = []
    for name, s in report["sets"].items():
        if not s.get("scored"):
            continue
        row = {"set": name, "positive": s["positive"], "scorer": f"algrid:{report['judge']}", "source": "algrid",
               "n": s["n"], "n_set": s["n_set"], "n_valid": s["n_valid"], "n_invalid": s["n_invalid"],
               **{k: s["confusion"][k] for k in ("tp", "fp", "fn", "tn")}}
        for m in METRICS:
            row.update({m: s[m]["value"], f"{m}_ci_low": s[m]["ci_low"], f"{m}_ci_high": s[m]["ci_high"]})
        rows.append(row)
        for line, p in enumerate(s["published"], 1):
            if p["same_set"]:
                se = p.get("accuracy_se")
                rows.append({"set": name, "positive": s["positive"], "scorer": f"pyrit:{p['scorer']}", "line": line,
                             "source": f"PyRIT {p['pyrit_version']} published ({p['trials']} trials)", "n": p["n"],
                             "n_set": p["n"], "accuracy": p["accuracy"], "precision": p["precision"],
                             "recall": p["recall"], "f1": p["f1"],
                             "accuracy_ci_low": None if se is None else p["accuracy"] - 1.96 * se,
                             "accuracy_ci_high": None if se is None else p["accuracy"] + 1.96 * se})
    return rows


def validation_table(paths, csv_out) -> pd.DataFrame:
    """Every judge's rows, and every published line of a set once: each judge's file lists the same published
    lines, so a set's lines come from the first file that lists them (all of them, equal figures or not)."""
    rows, listed = [], set()
    for path in paths:
        report_rows = validation_rows(read_json(path))
        sets = {r["set"] for r in report_rows if r["source"] != "algrid"}
        rows += [r for r in report_rows if r["source"] == "algrid" or r["set"] not in listed]
        listed |= sets
    frame = pd.DataFrame(rows)
    write_text(csv_out, frame.to_csv(index=False))
    log.info("%s: %d rows", csv_out, len(frame))
    return frame


def plot_validation(csv_path, png_out) -> None:
    """Accuracy per set: algrid's judges (Wilson 95%) next to PyRIT's published scorers (accuracy +- 1.96 SE)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_path

    frame = pd.read_csv(csv_path)
    sets = list(dict.fromkeys(frame["set"]))
    fig, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 0.5 + 0.28 * frame.groupby("set").size().max()),
                             squeeze=False)
    for ax, name in zip(axes[0], sets):
        part = frame[frame["set"] == name].reset_index(drop=True)
        for i, r in part.iterrows():
            mine = r["source"] == "algrid"
            err = [[r["accuracy"] - r["accuracy_ci_low"]], [r["accuracy_ci_high"] - r["accuracy"]]] \
                if pd.notna(r.get("accuracy_ci_low")) else None
            ax.errorbar(r["accuracy"], i, xerr=err, fmt="o" if mine else ".", color="C3" if mine else "0.5",
                        capsize=2)
        ax.set_yticks(range(len(part)))
        ax.set_yticklabels([f"{r['scorer'].split(':', 1)[1][:45]} (n={int(r['n'])})" for _, r in part.iterrows()],
                           fontsize=6)
        ax.set_title(f"{name} (positive = {part['positive'].iloc[0]})", fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_xlabel("accuracy vs human labels (95% interval)")
        ax.invert_yaxis()
    fig.tight_layout()
    with atomic_path(png_out) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def safety_summary(paths, csv_out) -> pd.DataFrame:
    """One row per standalone run: the safety rate (SAFE over all prompts) with its interval and denominators,
    the rate over valid verdicts only (a diagnostic), and its grade."""
    keys = ("model", "adapter", "n_prompts", "n_valid", "n_invalid", "n_empty", "n_safe", "safety_rate", "ci_low",
            "ci_high", "ci_method", "safety_rate_valid", "grade", "grade_best", "grade_worst", "reference")
    rows = []
    for path in paths:
        m = read_json(path)
        rows.append({**{k: m.get(k) for k in keys}, "judges": "+".join(m["judges"])})
    frame = pd.DataFrame(rows)
    write_text(csv_out, frame.to_csv(index=False))
    return frame
