"""The SSAN family: shapes, attention read-outs, the shared fusion layer, presets and the classical baselines."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ssan.models import (
    CLASSICAL_MODELS,
    MODEL_LABELS,
    MODEL_NAMES,
    NEURAL_MODELS,
    PRESETS,
    Preset,
    build_classical,
    build_network,
    get_preset,
)
from ssan.models.presets import apply_overrides
from ssan.models.ssan import pooled_size, relative_to_brightness
from ssan.training.trainer import resolve_preset

B, C, P, K, N = 12, 4, 9, 4, 5
TINY = Preset(
    name="tiny",
    rnn_hidden=8,
    attention_size=4,
    patch_size=P,
    n_components=K,
    conv_channels=(4, 8),
    fc_hidden=16,
    fusion_dim=8,
    fusion_hidden=16,
    batch_size=4,
    iterations=2,
    eval_every=1,
)


def inputs(n: int = N) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, B, generator=g), torch.rand(n, K, P, P, generator=g)


def tiny(name: str, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_network(name, B, C, apply_overrides(TINY, overrides))


# ---------------------------------------------------------------- networks


@pytest.mark.parametrize("name", NEURAL_MODELS)
def test_every_network_gives_logits_and_attention_maps_of_the_right_shape(name):
    model = tiny(name).eval()
    spectra, patches = inputs()
    assert model(spectra, patches).shape == (N, C)
    logits, maps = model(spectra, patches, return_attention=True)
    assert logits.shape == (N, C)
    assert set(maps) == {"spectral", "spatial"}
    assert (maps["spectral"] is not None) == model.has_spectral_attention
    assert (maps["spatial"] is not None) == model.has_spatial_attention
    if model.has_spectral_attention:
        assert maps["spectral"].shape == (N, B)
    if model.has_spatial_attention:
        assert maps["spatial"].shape == (N, P, P)


def test_model_flags_match_the_paper_comparators():
    flags = {
        name: (m.uses_spectra, m.uses_patches, m.has_spectral_attention, m.has_spatial_attention)
        for name in NEURAL_MODELS
        for m in [tiny(name)]
    }
    assert flags == {
        "rnn": (True, False, False, False),
        "cnn": (False, True, False, False),
        "arnn": (True, False, True, False),
        "acnn": (False, True, False, True),
        "ssan": (True, True, True, True),
    }


@pytest.mark.parametrize("name", ["ssan", "arnn"])
def test_spectral_attention_is_a_distribution_over_bands(name):
    _, maps = tiny(name).eval()(*inputs(), return_attention=True)
    alpha = maps["spectral"]
    assert (alpha >= 0).all()
    torch.testing.assert_close(alpha.sum(dim=1), torch.ones(N))


@pytest.mark.parametrize("name", ["ssan", "acnn"])
@pytest.mark.parametrize("mask_mode", ["multiply", "residual"])
def test_spatial_mask_lies_strictly_inside_0_1(name, mask_mode):
    spectra, patches = inputs()
    _, maps = tiny(name, mask_mode=mask_mode).eval()(
        spectra, patches * 100 - 50, return_attention=True
    )
    mask = maps["spatial"]
    assert mask.shape == (N, P, P)
    assert (mask > 0).all() and (mask < 1).all()


def test_residual_mask_mode_adds_the_masked_patch():
    model = tiny("acnn", mask_mode="residual")
    patches = inputs()[1]
    attended, mask = model.spatial.attention(patches)
    torch.testing.assert_close(attended, patches * (1 + mask.unsqueeze(1)))


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_rnn_comparator_pools_without_attention(pooling):
    model = tiny("rnn", rnn_pooling=pooling).eval()
    assert model.spectral.attention is None
    logits, maps = model(*inputs(), return_attention=True)
    assert logits.shape == (N, C)
    assert maps == {"spectral": None, "spatial": None}


def test_cnn_comparator_has_no_mask():
    model = tiny("cnn").eval()
    assert model.spatial.attention is None
    _, maps = model(*inputs(), return_attention=True)
    assert maps == {"spectral": None, "spatial": None}


@pytest.mark.parametrize("name", ["arnn", "rnn"])
def test_spectral_only_networks_ignore_patches(name):
    model = tiny(name).eval()
    spectra, _ = inputs()
    assert model(spectra, torch.empty(0)).shape == (N, C)


@pytest.mark.parametrize("name", ["acnn", "cnn"])
def test_spatial_only_networks_ignore_spectra(name):
    model = tiny(name).eval()
    _, patches = inputs()
    assert model(torch.empty(0), patches).shape == (N, C)


def test_wrong_input_shapes_are_refused_with_the_expected_shape():
    spectra, patches = inputs()
    with pytest.raises(ValueError, match=r"\(n, 12\)"):
        tiny("ssan")(spectra[:, :-1], patches)
    with pytest.raises(ValueError, match=r"\(n, 4, 9, 9\)"):
        tiny("acnn")(spectra, patches[:, :2])
    with pytest.raises(ValueError, match="one of each per pixel"):
        tiny("ssan")(spectra, patches[:-1])


def test_fusion_uses_one_shared_layer_for_both_branches():
    model = tiny("ssan").eval()
    shared = model.fusion.shared
    seen: list[torch.Tensor] = []
    shared.register_forward_hook(lambda module, args, out: seen.append(out.detach().clone()))
    spectra, patches = inputs()
    model(spectra, patches)
    assert len(seen) == 2, "the shared layer must be applied once per branch"

    # parameters are counted once: the shared layer is registered a single time
    names = [n for n, _ in model.named_parameters() if n.startswith("fusion.")]
    assert names == [
        "fusion.shared.weight",
        "fusion.shared.bias",
        "fusion.fc.weight",
        "fusion.fc.bias",
        "fusion.out.weight",
        "fusion.out.bias",
    ]
    expected = (C * 8 + 8) + (2 * 8 * 16 + 16) + (16 * C + C)  # shared C->8 once, 16->16, 16->C
    assert sum(p.numel() for p in model.fusion.parameters()) == expected

    with torch.no_grad():
        shared.weight.add_(0.5)
    model(spectra, patches)
    spectral_before, spatial_before, spectral_after, spatial_after = seen
    assert not torch.allclose(spectral_before, spectral_after)
    assert not torch.allclose(spatial_before, spatial_after)


def test_gradients_reach_both_branches_and_both_attentions():
    model = tiny("ssan").train()
    spectra, patches = inputs()
    torch.nn.functional.cross_entropy(model(spectra, patches), torch.arange(N) % C).backward()
    for name in [
        "spectral.gru.weight_hh_l0",
        "spectral.gru.weight_hh_l0_reverse",
        "spectral.attention.project.weight",
        "spectral.attention.project.bias",
        "spectral.attention.score.weight",
        "spatial.attention.project.weight",
        "spatial.conv1.weight",
        "spatial.fc1.weight",
        "fusion.shared.weight",
        "fusion.out.weight",
    ]:
        grad = model.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_centred_spectral_input_feeds_the_gru_2x_minus_1():
    spectra = inputs()[0]
    unit, centred = tiny("arnn").eval(), tiny("arnn", spectral_input="centred").eval()
    torch.testing.assert_close(
        centred(spectra, torch.empty(0)), unit(2 * spectra - 1, torch.empty(0))
    )


def test_band_embedding_gives_each_band_its_own_token_and_keeps_one_alpha_per_band():
    model = tiny("arnn", band_embedding=6).eval()
    tokens = model.spectral.tokens
    assert tokens.weight.shape == (B, 6) and model.spectral.gru.input_size == 6
    spectra = inputs()[0]
    same_value = torch.full((1, B), 0.3)
    steps = tokens(same_value)[0]
    assert steps.shape == (B, 6) and not torch.allclose(steps[0], steps[1]), (
        "one value, yet bands alike"
    )
    _, maps = model(spectra, torch.empty(0), return_attention=True)
    assert maps["spectral"].shape == (N, B)
    torch.testing.assert_close(maps["spectral"].sum(1), torch.ones(N))
    assert tiny("arnn").spectral.tokens is None, "the authors' scalar input stays the default"


def test_relative_input_is_the_same_for_a_brighter_or_darker_pixel():
    spectra = inputs()[0]
    spectra = 0.2 + 0.8 * spectra  # every pixel's mean above the floor
    for factor in (0.7, 1.0, 1.2):
        torch.testing.assert_close(
            relative_to_brightness(factor * spectra), relative_to_brightness(spectra)
        )
    torch.testing.assert_close(
        relative_to_brightness(spectra).mean(1), torch.zeros(N), atol=1e-6, rtol=0
    )
    dark = torch.full((1, B), 0.02)
    torch.testing.assert_close(
        relative_to_brightness(dark), dark / 0.1 - 1, msg="a dark pixel's ratio is damped"
    )


def test_relative_input_adds_each_bands_own_weight_on_its_relative_value():
    model = tiny("arnn", band_embedding=6, spectral_input="centred", relative_input=True).eval()
    tokens, spectra = model.spectral.tokens, inputs()[0]
    assert tokens.relative_weight.shape == (B, 6)
    expected = torch.tanh(
        (2 * spectra - 1).unsqueeze(-1) * tokens.weight
        + tokens.bias
        + relative_to_brightness(spectra).unsqueeze(-1) * tokens.relative_weight
    )
    torch.testing.assert_close(tokens(2 * spectra - 1, spectra), expected)
    _, maps = model(spectra, torch.empty(0), return_attention=True)
    assert maps["spectral"].shape == (N, B), "still one alpha per band"
    darker = model(0.5 * spectra, torch.empty(0))
    assert not torch.allclose(darker, model(spectra, torch.empty(0))), (
        "the band's own value still counts"
    )
    assert tiny("arnn", band_embedding=6).spectral.tokens.relative_weight is None


def test_branch_loss_adds_each_branch_cross_entropy_to_the_fused_one():
    model = tiny("ssan").eval()
    spectra, patches = inputs()
    y = torch.tensor([0, 1, 2, 3, 0])
    fused = torch.nn.functional.cross_entropy(model(spectra, patches), y)
    torch.testing.assert_close(model.training_loss(spectra, patches, y), fused)
    aided = tiny("ssan", branch_loss=0.5).eval()
    spectral, _ = aided.spectral(spectra)
    spatial, _ = aided.spatial(patches)
    ce = torch.nn.functional.cross_entropy
    expected = ce(aided(spectra, patches), y) + 0.5 * (ce(spectral, y) + ce(spatial, y))
    torch.testing.assert_close(aided.training_loss(spectra, patches, y), expected)


def test_attention_bias_switch_adds_b_prime():
    assert tiny("arnn").spectral.attention.score.bias is None
    assert tiny("arnn", attention_bias=True).spectral.attention.score.bias is not None


def test_authors_normal_init():
    model = tiny("ssan", init="normal", conv_channels=(16, 32))
    assert model.spatial.fc1.weight.std().item() == pytest.approx(1.0, abs=0.05)
    assert model.spatial.conv2.weight.std().item() == pytest.approx(1.0, abs=0.05)
    assert model.spatial.fc1.bias.std().item() == pytest.approx(1.0, abs=0.5)
    attention = torch.cat([p.flatten() for p in model.spectral.attention.parameters()])
    assert attention.std().item() == pytest.approx(0.1, abs=0.03)
    assert model.spatial.attention.project.weight.abs().max().item() <= 2e-4
    h = TINY.rnn_hidden
    gru = model.spectral.gru
    assert (gru.bias_ih_l0[: 2 * h] == 1).all() and (gru.bias_ih_l0[2 * h :] == 0).all()
    assert (gru.bias_hh_l0 == 0).all()
    # default init stays PyTorch's (small weights)
    assert tiny("ssan", conv_channels=(16, 32)).spatial.fc1.weight.std().item() < 0.2


# ---------------------------------------------------------------- presets


def test_paper_preset_is_the_authors_configuration():
    p = get_preset("paper")
    assert (p.rnn_hidden, p.attention_size, p.attention_bias) == (512, 32, False)
    assert (p.patch_size, p.n_components, p.conv_channels, p.kernel_size) == (27, 4, (32, 64), 5)
    assert (p.fc_hidden, p.dropout, p.fusion_dim, p.fusion_hidden) == (1024, 0.4, 256, 1024)
    assert (p.lr, p.batch_size, p.iterations, p.eval_every) == (5e-3, 128, 10_000, 1_000)
    assert (p.mask_mode, p.grad_clip, p.init, p.spectral_input) == (
        "multiply",
        None,
        "default",
        "unit",
    )
    assert (p.band_embedding, p.branch_loss, p.spectral_dropout, p.lr_schedule) == (
        0,
        0.0,
        0.0,
        "constant",
    )


def test_paper_ssan_spatial_fc_sees_7x7x64():
    assert pooled_size(27) == 7
    model = build_network("ssan", 103, 9, get_preset("paper"))
    assert model.spatial.fc1.in_features == 7 * 7 * 64
    assert model.spectral.gru.hidden_size == 512 and model.spectral.classifier.in_features == 1024


def test_quick_preset_is_smaller_and_shorter_than_paper():
    quick, paper = get_preset("quick"), get_preset("paper")
    assert quick.rnn_hidden < paper.rnn_hidden and quick.iterations < paper.iterations
    assert quick.eval_every <= quick.iterations
    assert set(PRESETS) == {"paper", "quick"}


def test_overrides_change_a_preset_and_get_preset_names_valid_presets():
    assert resolve_preset("ssan", "quick", {"iterations": 7}).iterations == 7
    assert get_preset("quick").iterations == 800, "the built-in preset itself is left alone"
    with pytest.raises(ValueError, match="paper"):
        get_preset("nope")


def test_overrides_reject_unknown_names_listing_valid_ones():
    with pytest.raises(ValueError, match="rnn_hidden"):
        apply_overrides(TINY, {"hidden": 3})


@pytest.mark.parametrize(
    "bad",
    [
        {"rnn_hidden": 0},
        {"fc_hidden": -1},
        {"iterations": 2.5},
        {"batch_size": True},
        {"patch_size": 8},
        {"patch_size": 3},
        {"kernel_size": 4},
        {"conv_channels": (32,)},
        {"dropout": 1.0},
        {"dropout": -0.1},
        {"lr": 0},
        {"mask_mode": "add"},
        {"init": "xavier"},
        {"rnn_pooling": "max"},
        {"spectral_input": "raw"},
        {"grad_clip": 0},
        {"early_stop_patience": 0},
        {"attention_bias": 1},
        {"band_embedding": -1},
        {"band_embedding": 2.0},
        {"spectral_dropout": 1.0},
        {"branch_loss": -0.5},
        {"branch_loss": float("inf")},
        {"lr_schedule": "step"},
        {"band_embedding": 5000},
        {"token_skip": True},
        {"relative_input": True},
        {"relative_input": 1},
    ],
)
def test_overrides_reject_bad_values(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        apply_overrides(TINY, bad)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_json_round_trip(name):
    preset = apply_overrides(get_preset(name), {"grad_clip": 1.0, "early_stop_patience": 3})
    again = Preset.from_dict(json.loads(json.dumps(preset.to_dict())))
    assert again == preset and isinstance(again.conv_channels, tuple)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="valid names"):
        Preset.from_dict({**TINY.to_dict(), "colour": "red"})


# ---------------------------------------------------------------- registry and classical models


def test_registry_names():
    assert MODEL_NAMES == CLASSICAL_MODELS + NEURAL_MODELS
    assert set(MODEL_LABELS) == set(MODEL_NAMES)
    assert MODEL_LABELS["ssan"] == "SSAN (Mei/Pan et al. 2019)"
    with pytest.raises(ValueError, match="ssan"):
        build_network("resnet", B, C, TINY)
    with pytest.raises(ValueError, match="knn"):
        build_classical("forest")


@pytest.mark.parametrize("name", CLASSICAL_MODELS)
def test_classical_models_fit_with_a_two_pixel_class(name):
    rng = np.random.default_rng(0)
    y = np.array([1] * 12 + [2] * 12 + [3] * 2)
    X = rng.random((y.size, B)) * 0.2 + y[:, None] * 0.3
    model = build_classical(name, seed=0).fit(X, y)
    assert model.cv.get_n_splits(X, y) == 2
    assert (model.predict(X) == y).mean() > 0.9
    assert set(model.predict(X[:3])) <= {1, 2, 3}
