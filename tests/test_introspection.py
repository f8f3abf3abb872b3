import torch
from braindecode import models
from torch import nn

from probe_core import DownstreamWrapper
from probe_core.introspection import discover_blocks, parameter_summary


def test_conv_nets_fall_back_to_stages_with_kernels() -> None:
    eegnet = models.EEGNet(n_chans=4, n_outputs=2, n_times=128)
    assert discover_blocks(eegnet) == [
        "conv_temporal",
        "conv_spatial",
        "conv_separable_depth",
        "conv_separable_point",
    ]
    shallow = models.ShallowFBCSPNet(n_chans=4, n_outputs=2, n_times=256)
    assert discover_blocks(shallow) == ["conv_time_spat"]


def test_transformer_layers_are_found(chs_info) -> None:
    common = {"n_outputs": 2, "n_chans": len(chs_info), "chs_info": chs_info, "sfreq": 200.0}
    biot = models.BIOT(n_times=400, num_layers=3, **common)
    assert discover_blocks(biot) == [f"encoder.transformer.layers.layers.{i}" for i in range(3)]
    labram = models.Labram(n_times=400, num_layers=2, embed_dim=40, num_heads=2, **common)
    assert discover_blocks(labram) == ["blocks.0", "blocks.1"]
    cbramod = models.CBraMod(n_times=400, n_layer=3, **common)
    assert discover_blocks(cbramod) == ["encoder.layers.0", "encoder.layers.1", "encoder.layers.2"]
    conformer = models.EEGConformer(n_times=400, num_layers=4, **common)
    assert discover_blocks(conformer) == [f"transformer.{i}" for i in range(4)]


def test_labram_with_channel_names_through_the_wrapper(chs_info) -> None:
    names = [ch["ch_name"] for ch in chs_info]
    labram = models.Labram(
        n_times=400,
        n_outputs=2,
        n_chans=len(names),
        chs_info=chs_info,
        sfreq=200.0,
        num_layers=2,
        embed_dim=40,
        num_heads=2,
    )
    x = torch.randn(2, len(names), 400)
    wrapper = DownstreamWrapper(layers_to_freeze=discover_blocks(labram)[:1] + ["patch_embed"])
    model = wrapper.build(labram, {"x": x, "ch_names": names}, n_outputs=3)
    assert model(x, ch_names=names).shape == (2, 3)
    frozen = {
        n.split(".")[0] for n, p in model.wrapped_model.named_parameters() if not p.requires_grad
    }
    assert frozen == {"patch_embed"}  # strict matching: "blocks.0" is not a first component


def test_parameter_summary_counts() -> None:
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    net[0].weight.requires_grad = False
    summary = parameter_summary(net)
    assert (summary.total, summary.trainable) == (26, 14)
    assert summary.trainable_fraction == 14 / 26
