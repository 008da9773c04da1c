"""The compact FSDP2 trainer: `train(config) -> TrainResult`; see loop.py for the step loop."""

from training.trainer.loop import NonFiniteLossError, Trainer, TrainResult, train

__all__ = ["NonFiniteLossError", "TrainResult", "Trainer", "train"]
