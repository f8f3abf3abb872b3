"""What a search space knows when it samples: the sweep's base config and facts about the
backbone and the data."""

from dataclasses import dataclass, replace

from probe_core import BackboneFacts, EEGDataset, TrialConfig
from probe_core.assembly import backbone_with_facts


@dataclass(frozen=True)
class SpaceContext:
    base: TrialConfig
    facts: BackboneFacts
    n_classes: int
    n_train: int  # training examples after the split, an upper bound for the batch size
    only_strategies: tuple[str, ...] | None = None  # restrict the strategies a space offers

    def with_base(self, base: TrialConfig) -> "SpaceContext":
        return replace(self, base=base)

    def restricted_to(self, strategies: list[str]) -> "SpaceContext":
        return replace(self, only_strategies=tuple(strategies))


def make_context(base: TrialConfig, data: EEGDataset) -> SpaceContext:
    """Inspect the backbone once, with its checkpoint: a missing or mismatched checkpoint fails
    here, before any trial starts."""
    _, facts = backbone_with_facts(base, data)
    n_train = len(base.split.split(data).train)
    return SpaceContext(base=base, facts=facts, n_classes=data.n_classes, n_train=n_train)
