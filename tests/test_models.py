"""The ViT/DeiT zoo: sizes, token counts, and switching attention without touching the weights."""

import pytest
import torch

from vitality_model import ATTENTIONS, ZOO, Attention, build, model_config, set_attention

torch.set_num_threads(1)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "params"),
    [("deit_tiny", 5_717_416), ("deit_small", 22_050_664), ("deit_base", 86_567_656)],
)
def test_deit_parameter_counts(name, params):
    with torch.device("meta"):  # shapes only: no memory, no init time
        model = build(name)
    assert n_params(model) == params


@pytest.mark.parametrize("attention", sorted(ATTENTIONS))
def test_parameter_count_does_not_depend_on_attention(attention):
    with torch.device("meta"):
        assert n_params(build("deit_tiny", attention=attention)) == 5_717_416


@pytest.mark.parametrize(
    ("name", "img", "patch"),
    [
        ("deit_tiny", 32, 16),
        ("deit_tiny", 48, 16),
        ("deit_tiny", 32, 8),
        ("vit_digits", 8, 2),
        ("vit_digits", 8, 4),
        ("vit_digits", 8, 8),
    ],
)
def test_token_count(name, img, patch):
    model = build(name, attention="taylor", img_size=img, patch_size=patch).eval()
    tokens = (img // patch) ** 2 + 1
    assert model.cfg.num_tokens == tokens
    seen = []
    model.blocks[0].register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].shape))
    x = torch.randn(2, model.cfg.in_chans, img, img)
    out = model(x)
    assert seen == [torch.Size([2, tokens, model.cfg.embed_dim])]
    assert out.shape == (2, model.cfg.num_classes)


def test_bad_image_size_raises():
    with pytest.raises(ValueError, match="multiple"):
        build("deit_tiny", img_size=30, patch_size=16)
    model = build("vit_digits")
    with pytest.raises(ValueError, match="8x8"):
        model(torch.randn(1, 1, 16, 16))


@pytest.mark.parametrize("attention", sorted(ATTENTIONS))
def test_every_attention_trains_vit_digits(attention):
    model = build("vit_digits", attention=attention).train()
    loss = model(torch.rand(4, 1, 8, 8)).logsumexp(-1).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert torch.isfinite(loss)


@pytest.mark.parametrize("attention", sorted(ATTENTIONS))
def test_set_attention_keeps_state_dict(attention):
    model = build("vit_digits", attention="softmax")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    set_attention(model, attention)
    after = model.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert {m.attention for m in model.modules() if isinstance(m, Attention)} == {attention}


def test_set_attention_options_and_errors():
    model = build("vit_digits")
    set_attention(model, "vitality", threshold=2e-2, exact_denominator=False)
    attn = model.blocks[0].attn
    assert (attn.attention, attn.threshold, attn.exact_denominator) == ("vitality", 2e-2, False)
    with pytest.raises(ValueError, match="unknown attention options"):
        set_attention(model, "taylor", heads=3)


def test_softmax_checkpoint_loads_into_vitality(tmp_path):
    softmax = build("vit_digits", attention="softmax", seed=1)
    path = tmp_path / "softmax.pt"
    torch.save(softmax.state_dict(), path)
    vitality = build("vit_digits", attention="vitality", seed=2)
    vitality.load_state_dict(torch.load(path, weights_only=True))  # strict: same keys
    for (ka, a), (kb, b) in zip(
        softmax.state_dict().items(), vitality.state_dict().items(), strict=True
    ):
        assert ka == kb and torch.equal(a, b)
    # same weights: vitality (eval) is exactly the softmax model switched to taylor
    x = torch.rand(3, 1, 8, 8)
    expected = set_attention(softmax, "taylor").eval()(x)
    assert torch.equal(vitality.eval()(x), expected)


def test_build_is_deterministic_per_seed():
    a, b, c = build("vit_digits", seed=3), build("vit_digits", seed=3), build("vit_digits", seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.pos_embed, c.pos_embed)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match="unknown model") as err:
        build("resnet50")
    assert all(name in str(err.value) for name in ZOO)
    with pytest.raises(ValueError, match="unknown model"):
        model_config("deit_huge")


def test_unknown_attention_lists_valid_names():
    for call in (
        lambda: build("deit_tiny", attention="flash"),
        lambda: set_attention(build("vit_digits"), "flash"),
        lambda: Attention(64, 4, attention="flash"),
    ):
        with pytest.raises(ValueError, match="unknown attention") as err:
            call()
        assert all(name in str(err.value) for name in ATTENTIONS)
