"""A training run's own random generators for its network: initial weights and dropout masks.

torch's process-wide generator is shared by every thread, so two runs at once with the same
seed would interleave their draws. `init_parameters_` redoes PyTorch's default initialisation
from a `torch.Generator`, and `GeneratorDropout` draws its masks from one, so a seeded run gives
the same weights whatever else the process is doing.
"""

from __future__ import annotations

import inspect
import math

import torch
from torch import Tensor, nn
from torch.nn import init

# Modules whose reset_parameters() draws no random numbers (ones and zeros).
_DETERMINISTIC = (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)


class GeneratorDropout(nn.Dropout):
    """`nn.Dropout` drawing its mask from `generator` (set by the trainer) instead of the process-wide one."""

    generator: torch.Generator | None = None

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0 or self.generator is None:
            return super().forward(x)
        noise = (
            torch.empty_like(x)
            .bernoulli_(1.0 - self.p, generator=self.generator)
            .div_(1.0 - self.p)
        )
        return x * noise  # the same draws and arithmetic as torch's own CPU dropout


@torch.no_grad()
def init_parameters_(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise every parameter of `model` as PyTorch's defaults do, drawing from `generator`.

    A module type whose initialisation is not known here is refused (TypeError), rather than
    left drawing from the shared generator.
    """
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                fan_in, _ = init._calculate_fan_in_and_fan_out(module.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                init.uniform_(module.bias, -bound, bound, generator=generator)
        elif isinstance(module, nn.RNNBase):
            stdv = 1.0 / math.sqrt(module.hidden_size)
            for weight in module.parameters():
                init.uniform_(weight, -stdv, stdv, generator=generator)
        elif isinstance(module, _DETERMINISTIC):
            module.reset_parameters()
        elif (
            "generator"
            in inspect.signature(getattr(module, "reset_parameters", lambda: None)).parameters
        ):
            module.reset_parameters(
                generator=generator
            )  # the project's own layers, e.g. BandTokens
        elif any(True for _ in module.parameters(recurse=False)):
            raise TypeError(
                f"init_parameters_ does not know how to initialise {type(module).__name__}; "
                "add it to ssan/models/seeding.py so seeded runs stay reproducible."
            )
    return model


def use_dropout_generator(model: nn.Module, generator: torch.Generator) -> None:
    """Make every dropout layer of `model` draw from `generator`; a plain nn.Dropout is refused."""
    for module in model.modules():
        if isinstance(module, GeneratorDropout):
            module.generator = generator
        elif isinstance(module, nn.Dropout):
            raise TypeError(
                f"{type(model).__name__} has a plain nn.Dropout, which draws from torch's process-wide "
                "generator; use ssan.models.seeding.GeneratorDropout."
            )
