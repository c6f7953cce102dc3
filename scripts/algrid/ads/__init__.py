"""Active data search (seed 004): an optimizer model proposes API trajectories that collect data for a task,
the collected data conditions (or trains) the policy model, and rejection sampling keeps the best trajectory.

Modules, one job each: ``apis`` (retrieval, demonstration generation, question answering behind one interface),
``cache`` (on-disk call cache and cost accounting), ``propose`` (optimizer prompt and parsing), ``policy``
(conditioning and scoring the policy), ``loop`` (one iteration), ``evaluate`` (test scores, baselines, verdicts).
"""

APIS = ("retrieval", "demonstrations", "qa")
