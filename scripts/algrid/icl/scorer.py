"""The model a demonstration strategy calls while it selects (``strategies._model.Scorer``): the task's prompts,
and the same log-likelihoods and greedy answers as the icl family's test-time predictions.

``calls`` counts prompts the model processes: one per row and demonstration set (a log-likelihood scores all
of a prompt's answer options through one KV cache), two per row for a generated answer's confidence (the
answer, then its log-likelihood).
"""

from .. import generation, models, prompts
from ..errors import ConfigError
from ..strategies._model import Scorer
from .options import answer_options, fit_prompt, loglik_demo, loglik_prompt_config
from .predict import LOGLIK_FAMILIES, check_options, predict_generate, predict_loglik


class ModelScorer(Scorer):
    def __init__(self, lm, tokenizer, *, pool_rows: list[dict], queries: list[dict], dev_rows: list[dict],
                 family: str, metric: str, prompt: dict, predict_by: str, loglik_norm: str, choice_text: str,
                 max_new_tokens: int, batch_size: int, cache_prefix: bool = True, **_unused):
        check_options(predict_by=predict_by, loglik_norm=loglik_norm, choice_text=choice_text)
        self.lm, self.tokenizer = lm, tokenizer
        self.rows = {"pool": pool_rows, "eval": queries, "dev": dev_rows}
        self.n_dev, self.calls = len(dev_rows), 0
        self.pc = prompts.prompt_config(family, prompt)
        self.metric, self.norm, self.choice_text = metric, loglik_norm, choice_text
        self.loglik = predict_by == "loglik" and family in LOGLIK_FAMILIES
        self.max_new_tokens, self.batch_size, self.cache_prefix = max_new_tokens, batch_size, cache_prefix
        self.context = getattr(getattr(lm, "config", None), "max_position_embeddings", None)

    def _demos(self, indices) -> list[dict]:
        return [self.rows["pool"][i] for i in indices]

    def _option_prompts(self, rows, demo_lists):
        """Log-likelihood prompts, as predict_loglik builds them: (texts, continuations per text)."""
        lpc = loglik_prompt_config(self.pc, self.choice_text)
        lead = "" if prompts.uses_chat(self.tokenizer, lpc) else " "
        limit = self.context and self.context - 32
        texts, options = [], []
        for row, demos in zip(rows, demo_lists):
            ds = [loglik_demo(d, lpc, self.choice_text) for d in demos]
            texts.append(fit_prompt(self.tokenizer, lpc, row, ds, limit)[0])
            options.append([lead + a for _, a in answer_options(row, lpc, self.choice_text)])
        return texts, options

    def _mean_nll(self, texts, options) -> list[list[float]]:
        self.calls += len(texts)
        values = generation.choice_nll(self.lm, self.tokenizer, texts, options, desc="select (loglik)")
        return [[s / max(n, 1) for s, n in per] for per in values]

    def option_nll(self, query, demo_sets):
        if self.pc["family"] not in LOGLIK_FAMILIES:
            raise ConfigError("icl.strategies", f"this strategy compares answer options; the {self.pc['family']} "
                              f"family has none (classification and multichoice tasks do)")
        row = self.rows["eval"][query]
        texts, options = self._option_prompts([row] * len(demo_sets), [self._demos(s) for s in demo_sets])
        return self._mean_nll(texts, options)

    def confidence(self, items, demos):
        rows, shown = self._demos(items), self._demos(demos)
        if self.loglik:
            texts, options = self._option_prompts(rows, [shown] * len(rows))
            return [-min(nll) for nll in self._mean_nll(texts, options)]
        limit = self.context and self.context - self.max_new_tokens
        texts = [fit_prompt(self.tokenizer, self.pc, r, shown, limit)[0] for r in rows]
        run = generation.generate_shared if self.cache_prefix else generation.generate
        answers = run(self.lm, self.tokenizer, texts, max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
                      stop_strings=prompts.stop_strings(self.tokenizer, self.pc), desc="select (confidence)")
        answers = [a or (self.tokenizer.eos_token or " ") for a in answers]
        self.calls += 2 * len(texts)
        nll = generation.sequence_nll(self.lm, self.tokenizer, answers, prefixes=texts, batch_size=self.batch_size,
                                      desc="select (confidence)")
        return [-s / max(n, 1) for s, n in nll]

    def correct(self, split, rows, demos):
        targets = [self.rows[split][i] for i in rows]
        shown = [self._demos(demos)] * len(targets)
        self.calls += len(targets)
        if self.loglik:
            records = predict_loglik(self.lm, self.tokenizer, targets, shown, self.pc, metric=self.metric,
                                     loglik_norm=self.norm, choice_text=self.choice_text,
                                     max_tokens=self.context and self.context - 32)
        else:
            records = predict_generate(self.lm, self.tokenizer, targets, shown, self.pc, metric=self.metric,
                                       max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
                                       cache_prefix=self.cache_prefix,
                                       max_tokens=self.context and self.context - self.max_new_tokens)
        return [bool(r["correct"]) for r in records]


def load_scorer(model_dir, *, model: dict, **kwargs) -> ModelScorer:
    """The task's model, loaded as a test-time prediction loads it."""
    tokenizer = models.load_tokenizer(model_dir)
    lm = models.load_model(model_dir, quantization=model.get("quantization", "none"),
                           dtype=model.get("dtype", "float32"))
    return ModelScorer(lm, tokenizer, **kwargs)
