"""In-context learning (seed 000, "ActiveLLM"): choose demonstrations from a task's pool with a
selection strategy, build few-shot prompts in the task's format, predict with no training, score.

Modules: ``demos`` (choosing demonstrations), ``options`` (prompts and answer options), ``predict``,
``score`` (metrics.json and the family summary), ``judge`` (a judge model's rating of free-text answers).

Demonstrations
    A strategy picks k pool rows: one set shared by every eval row (random, kmeans,
    perplexity_high, entropy, ...), or one set per eval row for per-query strategies
    (similarity, bm25: ``Strategy.select_per_query``, the eval inputs are the queries).
    Pool and eval rows never share an input: prepare_dataset drops such pool rows and
    ``select_demos`` checks again. Demonstrations appear in the prompt in the order the
    strategy returns them (per query: the most relevant first). If a prompt would not fit
    the model's context, the last demonstrations are dropped; ``demo_ids`` in the
    predictions are the ones actually shown.

Prediction (``predict_by``)
    ``loglik`` (classification and multichoice only; other families always generate): the
    answer whose continuation after the prompt has the lowest NLL, normalised by
    ``loglik_norm``: ``mean`` (per token, the default) or ``sum``. Classification scores
    each verbaliser; multichoice scores the letter in the family's bare-answer format, "(A)"
    (``choice_text: letter``, the default), or the option text (``choice_text: option``,
    demonstrations then answer with the option text). Demonstrations show bare answers (no
    rationale) so that the prompt teaches exactly the format that is scored.
    ``generate``: greedy decoding; demonstrations answer with their rationale where the pool
    has one (math: "<rationale>\\n#### N", BBH: "Q: ... A: Let's think step by step. <rationale
    or 'So the answer is X.'>"); the answer is extracted by the task's metric. BBH tasks do not
    use their fixed CoT prompt file here: the demonstrations come from the pool.

Scoring
    ``metrics.score`` with the task's metric, exactly as the finetune family's eval
    (accuracy over all eval rows, unparsed answers wrong; macro-F1 for label/choice, ROUGE-L of
    the output against the reference target for text), plus the mean rating of a judge model
    where one is configured (``algrid.icl.judge``).
"""
