import pytest
import torch

from probe_core.wrapper import make_aggregation

X = torch.arange(2 * 6 * 4, dtype=torch.float).reshape(2, 6, 4)


def test_flatten_keeps_every_value_in_order() -> None:
    module, size = make_aggregation("flatten", X.shape[1:])
    assert size == 24
    assert torch.equal(module(X)[1], X[1].reshape(-1))


def test_mean_over_tokens_and_over_channels_and_tokens() -> None:
    module, size = make_aggregation("mean", X.shape[1:])
    assert size == 4
    assert torch.allclose(module(X)[0], torch.tensor([10.0, 11.0, 12.0, 13.0]))
    x4 = torch.arange(2 * 3 * 2 * 4, dtype=torch.float).reshape(2, 3, 2, 4)
    module4, size4 = make_aggregation("mean", x4.shape[1:])
    assert size4 == 4
    # channel/patch means of the first example: values 0..23 in rows of 4 -> column means
    assert torch.allclose(module4(x4)[0], torch.tensor([10.0, 11.0, 12.0, 13.0]))


def test_first_token() -> None:
    module, size = make_aggregation("first", X.shape[1:])
    assert size == 4
    assert torch.equal(module(X), X[:, 0])


def test_grouped_mean_concatenates_group_means() -> None:
    module, size = make_aggregation(2, X.shape[1:])
    assert size == 8
    expected = torch.cat([X[:, :3].mean(1), X[:, 3:].mean(1)], dim=1)
    assert torch.equal(module(X), expected)
    assert module(X)[0, :4].tolist() == [4.0, 5.0, 6.0, 7.0]


def test_none_passes_through() -> None:
    module, size = make_aggregation(None, X.shape[1:])
    assert size == 24 and module(X) is X


@pytest.mark.parametrize("aggregation", ["mean", "first", 3])
def test_token_aggregations_refuse_flat_features(aggregation) -> None:
    with pytest.raises(ValueError, match="brain_model_output_size=\\(7,\\)"):
        make_aggregation(aggregation, torch.Size([7]))
