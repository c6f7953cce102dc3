"""What the finetune family adds for seed 003 (QLoRA GSM8K presets): the eval subsample, checkpoint sweeps,
existing adapters as grid entries, and the checks of final_metrics (denominators, baseline thresholds)."""
