"""The trace of one pixel's forward pass: every stage recomputed from the one before, logits as the forward's."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ssan.data.demo import TEAL_PAINT
from ssan.inference.trace import trace_network, trace_pixel
from ssan.models import build_network
from ssan.training.trainer import resolve_preset

SHIPPED = "assets/demo-ssan"
N_BANDS, N_CLASSES = 20, 5


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def _inputs(preset, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    spectra = torch.rand(1, N_BANDS, generator=g)
    patches = torch.rand(1, preset.n_components, preset.patch_size, preset.patch_size, generator=g)
    return spectra, patches


@pytest.mark.parametrize("preset_name", ["quick", "paper"])
@pytest.mark.parametrize("model", ["ssan", "arnn", "acnn", "rnn", "cnn"])
def test_trace_recomposes_the_forward(model, preset_name):
    preset = resolve_preset(model, preset_name)
    torch.manual_seed(0)
    net = build_network(model, N_BANDS, N_CLASSES, preset).eval()
    spectra, patches = _inputs(preset)
    trace = trace_network(net, spectra, patches)

    with torch.inference_mode():
        logits, att = net(spectra, patches, return_attention=True)
    np.testing.assert_allclose(trace.logits, logits[0].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(trace.probabilities, _softmax(trace.logits), rtol=1e-5, atol=1e-6)

    if net.has_spectral_attention:
        # α is the softmax of the scores, the context the α-weighted sum of the states it attended over
        np.testing.assert_allclose(
            trace["spectral.alpha"], _softmax(trace["spectral.scores"]), atol=1e-6
        )
        np.testing.assert_allclose(trace["spectral.alpha"], att["spectral"][0].numpy(), atol=1e-6)
        states = (
            trace["spectral.states_tokens"]
            if "spectral.states_tokens" in trace
            else trace["spectral.states"]
        )
        np.testing.assert_allclose(
            trace["spectral.context"], trace["spectral.alpha"] @ states, atol=1e-5
        )
        assert trace["spectral.states"].shape == (N_BANDS, 2 * preset.rnn_hidden)
    if net.has_spatial_attention:
        # the mask is σ(tanh(1×1 conv)) and multiplies every component of the patch
        mask = 1 / (1 + np.exp(-np.tanh(trace["spatial.conv1x1"])))
        np.testing.assert_allclose(trace["spatial.mask"], mask, atol=1e-6)
        np.testing.assert_allclose(trace["spatial.mask"], att["spatial"][0].numpy(), atol=1e-6)
        masked = trace["spatial.patch"] * trace["spatial.mask"]
        if preset.mask_mode == "residual":
            masked = trace["spatial.patch"] + masked
        np.testing.assert_allclose(trace["spatial.masked"], masked, atol=1e-6)
    if model == "ssan":
        # the fusion: one shared FC for both branches' class scores, then the joint layers
        w = net.fusion.shared.weight.detach().numpy()
        b = net.fusion.shared.bias.detach().numpy()
        for branch in ("spectral", "spatial"):
            expected = np.maximum(w @ trace[f"{branch}.class_scores"] + b, 0)
            np.testing.assert_allclose(trace[f"fusion.{branch}"], expected, rtol=1e-5, atol=1e-5)
        joined = np.concatenate([trace["fusion.spectral"], trace["fusion.spatial"]])
        np.testing.assert_allclose(trace["fusion.concat"], joined)
        out_w, out_b = net.fusion.out.weight.detach().numpy(), net.fusion.out.bias.detach().numpy()
        np.testing.assert_allclose(
            trace.logits, out_w @ trace["fusion.hidden"] + out_b, rtol=1e-5, atol=1e-5
        )


def test_trace_follows_the_paper_order():
    preset = resolve_preset("ssan", "quick")
    net = build_network("ssan", N_BANDS, N_CLASSES, preset).eval()
    keys = trace_network(net, *_inputs(preset)).keys
    order = [
        "spectral.spectrum",
        "spectral.tokens",
        "spectral.states",
        "spectral.scores",
        "spectral.alpha",
        "spectral.context",
        "spectral.class_scores",
        "spatial.patch",
        "spatial.conv1x1",
        "spatial.tanh",
        "spatial.mask",
        "spatial.masked",
        "spatial.conv1",
        "spatial.pool1",
        "spatial.conv2",
        "spatial.pool2",
        "spatial.fc",
        "spatial.class_scores",
        "fusion.spectral",
        "fusion.spatial",
        "fusion.concat",
        "fusion.hidden",
        "logits",
        "probabilities",
    ]
    assert [k for k in keys if k in order] == order


def test_trace_pixel_of_the_shipped_model_agrees_with_its_prediction(demo, shipped):
    fitted, scene = shipped, demo
    row, col = 75, 40
    trace = trace_pixel(fitted, scene, (row, col))
    sampler = fitted.sampler(scene)
    probs, alpha, _ = fitted.forward_at(
        sampler, np.array([row * scene.shape[1] + col]), attention=True
    )
    np.testing.assert_allclose(trace.probabilities, probs[0], atol=1e-5)
    np.testing.assert_allclose(trace["spectral.alpha"], alpha[0], atol=1e-5)
    assert trace.to_dict()["stages"][0]["shape"] == [scene.n_bands]


def test_trace_pixel_refuses_a_pixel_outside_the_scene(demo, shipped):
    with pytest.raises(ValueError, match="outside the 150x150 scene"):
        trace_pixel(shipped, demo, (150, 0))


def test_trace_command_prints_every_stage_as_json(capsys):
    from ssan import cli

    assert cli.main(["trace", "--checkpoint", SHIPPED, "--pixel", "3,58", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    keys = [stage["key"] for stage in record["stages"]]
    assert record["model"] == "ssan" and keys[-1] == "probabilities"
    probabilities = np.array(record["stages"][-1]["value"])
    assert probabilities.argmax() + 1 == TEAL_PAINT and abs(probabilities.sum() - 1) < 1e-5
