"""Answer stages: condense → retrieve → rerank → synthesize (extractive or LLM) → cite."""
