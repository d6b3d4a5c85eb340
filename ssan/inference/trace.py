"""One pixel's path through a network, stage by stage, in the paper's order.

`trace_network` runs the same modules the network's own forward runs, keeping every
intermediate tensor with its name, symbol and a one-line description, so a student can
see how a spectrum and a patch become class probabilities: the BiGRU states, the scores
that α is the softmax of, the mask the 1×1 convolution draws, each convolution's feature
maps, and how the fusion weighs the two branches. Its logits equal the forward's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssan.data.scene import Scene
from ssan.models.fitted import FittedModel, network_inputs, pixel_indices
from ssan.models.ssan import ScoreFusion, SpatialBranch, SpectralBranch

SPECTRAL, SPATIAL, FUSION = "spectral", "spatial", "fusion"


@dataclass(frozen=True, eq=False)
class Stage:
    """One intermediate tensor of the forward pass for one pixel."""

    key: str  # stable identifier, e.g. "spectral.alpha"
    branch: str  # "spectral", "spatial" or "fusion"
    name: str  # what a student reads, e.g. "α = softmax(e)"
    description: str  # one line: what this stage is
    value: np.ndarray  # the tensor for this pixel, without the batch axis

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "branch": self.branch,
            "name": self.name,
            "description": self.description,
            "shape": list(self.shape),
            "value": self.value.tolist(),
        }


@dataclass(frozen=True, eq=False)
class Trace:
    """Every stage of one forward pass, in the paper's order, and its result."""

    model: str
    stages: tuple[Stage, ...]

    def __getitem__(self, key: str) -> np.ndarray:
        for stage in self.stages:
            if stage.key == key:
                return stage.value
        raise KeyError(f"no stage {key!r} in this trace; stages: {[s.key for s in self.stages]}")

    def __contains__(self, key: str) -> bool:
        return any(stage.key == key for stage in self.stages)

    @property
    def keys(self) -> list[str]:
        return [stage.key for stage in self.stages]

    @property
    def logits(self) -> np.ndarray:
        return self["logits"]

    @property
    def probabilities(self) -> np.ndarray:
        return self["probabilities"]

    def to_dict(self) -> dict:
        return {"model": self.model, "stages": [stage.to_dict() for stage in self.stages]}


class _Recorder:
    """Collects stages, dropping the batch axis of a one-pixel batch."""

    def __init__(self) -> None:
        self.stages: list[Stage] = []

    def add(self, key: str, branch: str, name: str, description: str, value: Tensor) -> None:
        array = value.detach().float().cpu().numpy()
        self.stages.append(Stage(key, branch, name, description, array[0]))


def _trace_spectral(branch: SpectralBranch, spectra: Tensor, rec: _Recorder) -> Tensor:
    s = SPECTRAL
    rec.add(
        f"{s}.spectrum",
        s,
        "spectrum x",
        "the pixel's min-max scaled spectrum, one value per band",
        spectra,
    )
    values = 2.0 * spectra - 1.0 if branch.centred else spectra
    if branch.centred:
        rec.add(
            f"{s}.centred",
            s,
            "2x − 1",
            "each band's value centred to [−1, 1]: what each GRU step reads",
            values,
        )
    if branch.tokens is not None:
        steps = branch.tokens(values, spectra)
        rec.add(
            f"{s}.tokens",
            s,
            "band tokens tanh(x_i W_i + b_i)",
            "each band's value through that band's own small embedding",
            steps,
        )
    else:
        steps = values.unsqueeze(-1)
    states, last = branch.gru(steps)
    rec.add(
        f"{s}.states",
        s,
        "BiGRU states g_i",
        "one state per band: the forward GRU read bands 1..i, the backward GRU bands B..i",
        states,
    )
    if branch.token_skip:
        states = torch.cat([states, steps], dim=-1)
        rec.add(
            f"{s}.states_tokens", s, "[g_i ; token_i]", "each state beside its band's token", states
        )
    if branch.attention is not None:
        projected = torch.tanh(branch.attention.project(states))
        rec.add(
            f"{s}.projection",
            s,
            "u_i = tanh(W g_i + b)",
            "each state projected into the attention space",
            projected,
        )
        scores = branch.attention.score(projected).squeeze(-1)
        rec.add(
            f"{s}.scores",
            s,
            "e_i = w′ · u_i",
            "one score per band: how much the network wants to read it",
            scores,
        )
        alpha = torch.softmax(scores, dim=1)
        rec.add(
            f"{s}.alpha",
            s,
            "α = softmax(e)",
            "the spectral attention: one weight per band, summing to 1",
            alpha,
        )
        features = torch.bmm(alpha.unsqueeze(1), states).squeeze(1)
        rec.add(
            f"{s}.context",
            s,
            "s = Σ α_i g_i",
            "the context vector: states averaged with α's weights",
            features,
        )
    elif branch.pooling == "mean":
        features = states.mean(dim=1)
        rec.add(
            f"{s}.pooled",
            s,
            "mean of g_i",
            "the states averaged over the bands (no attention)",
            features,
        )
    else:
        features = torch.cat([last[0], last[1]], dim=1)
        rec.add(
            f"{s}.pooled",
            s,
            "[g_B→ ; g_1←]",
            "each direction's final state (no attention)",
            features,
        )
    scores = branch.classifier(features)  # dropout is the identity at inference
    rec.add(
        f"{s}.class_scores",
        s,
        "spectral class scores",
        "what the spectral branch alone says, per class",
        scores,
    )
    return scores


def _trace_spatial(branch: SpatialBranch, patches: Tensor, rec: _Recorder) -> Tensor:
    s = SPATIAL
    rec.add(
        f"{s}.patch", s, "patch P", "the principal components of the pixel's neighbourhood", patches
    )
    x = patches.contiguous(memory_format=torch.channels_last)  # the layout the forward infers in
    if branch.attention is not None:
        projected = branch.attention.project(x)
        rec.add(
            f"{s}.conv1x1",
            s,
            "w · P + b (1×1 conv)",
            "each neighbour's components weighted into one number by a 1×1 convolution",
            projected[:, 0],
        )
        squashed = torch.tanh(projected)
        rec.add(f"{s}.tanh", s, "tanh(·)", "squashed to (−1, 1)", squashed[:, 0])
        mask = torch.sigmoid(squashed).squeeze(1)
        rec.add(
            f"{s}.mask",
            s,
            "mask m = σ(tanh(·))",
            "the spatial attention: one weight in (0.27, 0.73) per neighbour",
            mask,
        )
        attended = x * mask.unsqueeze(1)
        x = x + attended if branch.attention.mode == "residual" else attended
        rec.add(
            f"{s}.masked",
            s,
            "P ⊙ m" if branch.attention.mode != "residual" else "P + P ⊙ m",
            "the patch with every neighbour scaled by its mask weight",
            x,
        )
    conv1 = branch.conv1(x)
    rec.add(f"{s}.conv1", s, "conv 1", "feature maps of the first 5×5 convolution", conv1)
    x = F.relu(branch.pool1(conv1))
    rec.add(
        f"{s}.pool1",
        s,
        "max-pool 1 + ReLU",
        "each 2×2 block's largest value, negatives set to 0",
        x,
    )
    conv2 = branch.conv2(x)
    rec.add(f"{s}.conv2", s, "conv 2", "feature maps of the second 5×5 convolution", conv2)
    x = F.relu(branch.pool2(conv2))
    rec.add(
        f"{s}.pool2",
        s,
        "max-pool 2 + ReLU",
        "each 2×2 block's largest value, negatives set to 0",
        x,
    )
    hidden = F.relu(branch.fc1(x.flatten(1)))  # dropout is the identity at inference
    rec.add(
        f"{s}.fc",
        s,
        "FC + ReLU",
        "the pooled maps flattened through a fully connected layer",
        hidden,
    )
    scores = branch.fc2(hidden)
    rec.add(
        f"{s}.class_scores",
        s,
        "spatial class scores",
        "what the spatial branch alone says, per class",
        scores,
    )
    return scores


def _trace_fusion(fusion: ScoreFusion, spectral: Tensor, spatial: Tensor, rec: _Recorder) -> Tensor:
    f = FUSION
    a = F.relu(fusion.shared(spectral))
    rec.add(
        f"{f}.spectral",
        f,
        "ReLU(W_f · spectral scores)",
        "the spectral scores through the shared FC",
        a,
    )
    b = F.relu(fusion.shared(spatial))
    rec.add(
        f"{f}.spatial",
        f,
        "ReLU(W_f · spatial scores)",
        "the spatial scores through the same shared FC (one W_f for both)",
        b,
    )
    joined = torch.cat([a, b], dim=1)
    rec.add(f"{f}.concat", f, "[· ; ·]", "both branches side by side", joined)
    hidden = F.relu(fusion.fc(joined))
    rec.add(
        f"{f}.hidden",
        f,
        "FC + ReLU",
        "the joint layer that weighs one branch against the other",
        hidden,
    )
    return fusion.out(hidden)


def trace_network(net: nn.Module, spectra: Tensor, patches: Tensor) -> Trace:
    """The stages of `net`'s forward pass for one pixel (`spectra` (1, B), `patches` (1, k, p, p)).

    Works for SSAN and its neural comparators (ARNN, ACNN, RNN, CNN); an input the network
    does not use may be empty.
    """
    net.check_inputs(spectra, patches)
    if (net.uses_spectra and spectra.shape[0] != 1) or (net.uses_patches and patches.shape[0] != 1):
        raise ValueError(
            "trace_network follows one pixel: pass a batch of one spectrum and one patch."
        )
    rec = _Recorder()
    with torch.inference_mode():
        spectral = _trace_spectral(net.spectral, spectra, rec) if net.uses_spectra else None
        spatial = _trace_spatial(net.spatial, patches, rec) if net.uses_patches else None
        if spectral is not None and spatial is not None:
            logits, last = _trace_fusion(net.fusion, spectral, spatial, rec), FUSION
        else:
            logits, last = (spectral, SPECTRAL) if spectral is not None else (spatial, SPATIAL)
        rec.add("logits", last, "logits z", "the network's class scores", logits)
        probabilities = torch.softmax(logits.float(), dim=1)
        rec.add("probabilities", last, "p = softmax(z)", "the class probabilities", probabilities)
    return Trace(type(net).__name__.lower(), tuple(rec.stages))


def trace_pixel(fitted: FittedModel, scene: Scene, pixel: tuple[int, int]) -> Trace:
    """The trace of `fitted`'s network for the pixel at (row, col) of `scene`, where its weights are."""
    return trace_network(fitted.network, *pixel_inputs(fitted, scene, pixel))


def pixel_inputs(
    fitted: FittedModel, scene: Scene, pixel: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """The network inputs (spectra (1, B), patches (1, k, p, p)) of the pixel at (row, col), on the device
    of `fitted`'s weights; refused for a model that is not a neural network."""
    if fitted.network is None:
        raise ValueError(
            f"{fitted.model_name.upper()} is not a neural network: there is no forward pass to trace."
        )
    flat = pixel_indices(scene, [pixel])[0]
    return network_inputs(fitted.network, fitted.sampler(scene), flat, fitted.inference_device())
