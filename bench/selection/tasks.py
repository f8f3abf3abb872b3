"""Strategy-selection tasks with known answers: a pretraining source and a target each, built so
that the best way to adapt the pretrained backbone differs from task to task.

``TASKS`` are simulated (``SyntheticData``, one trial takes seconds on one CPU core) or read
from the real recordings beside the project (``../shared/realdata``, never committed; tasks on
them are left out where it is absent). ``ground_truth.py`` trains every applicable strategy on
every task and stores the answer in ``ground_truth.json``; a recommendation is then scored
against that table by regret.
"""

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from probe_core import DataConfig, EpochsData, PretrainConfig, SyntheticData, TrialConfig
from probe_core.assembly import backbone_with_facts
from search_spaces.config_paths import with_values
from search_spaces.freeze_strategy import applicable_strategies

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
"""The real recordings, beside the project (see their README)."""
CACHE = Path(__file__).parent / ".cache"
"""Pretrained source checkpoints (gitignored), named by a digest of their config."""

SOURCE_SUBJECTS = list(range(8))
TARGET_SUBJECTS = list(range(20, 24))  # never seen in pretraining

SHALLOW = {"name": "ShallowFBCSPNet"}
EEGNET = {"name": "EEGNet"}
CONFORMER = {"name": "EEGConformer", "kwargs": {"num_layers": 2, "num_heads": 4}}

SENSORIMOTOR_1010 = [
    "FC3", "FC1", "FCz", "FC2", "FC4", "C5", "C1", "C2", "C6", "CP3", "CP1", "CPz", "CP2", "CP4",
]  # fmt: skip
"""A montage that shares no electrode with the sources' 10-20 one (no C3, Cz, C4)."""


@dataclass(frozen=True)
class SelectionTask:
    """One source → target adaptation problem; ``base`` is the trial every strategy starts from
    (backbone with the source checkpoint, split, training)."""

    name: str
    description: str
    expected_winner: str
    source: PretrainConfig
    target: DataConfig
    base: TrialConfig
    reference: dict | None = None
    """The sweep's classical reference where the default (tangent space) is not the field's."""

    @cached_property
    def strategies(self) -> tuple[str, ...]:
        """The strategies the search spaces offer for this task's backbone."""
        _, facts = backbone_with_facts(self.base, self.target.build(), pretrained=False)
        return tuple(applicable_strategies(facts))

    @property
    def available(self) -> bool:
        """Whether its data is on this machine: the real recordings may be absent."""
        return self.target.kind != "epochs" or REALDATA.exists()

    def trial(self, strategy: dict, lr: float, seed: int) -> TrialConfig:
        """The base trial with ``strategy``, learning rate ``lr`` and model seed ``seed``."""
        return with_values(self.base, {"strategy": strategy, "optimizer.lr": lr, "seed": seed})


def _digest(values: dict) -> str:
    """A short fingerprint of JSON-able ``values``."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def _source(
    backbone: dict, data: DataConfig, epochs: int, batch_size: int = 64, lr: float = 3e-3
) -> PretrainConfig:
    """Supervised pretraining of ``backbone`` on ``data``, cached under a digest of the config:
    a changed source is never read from a stale checkpoint."""
    config = PretrainConfig(
        backbone=backbone,
        data=data,
        output=CACHE / "unnamed",
        split={"val_fraction": 0.2, "test_fraction": 0.0},
        training={"max_epochs": epochs, "batch_size": batch_size},
        optimizer={"lr": lr},
    )
    name = f"{backbone['name']}-{_digest(config.model_dump(mode='json', exclude={'output'}))}"
    return config.model_copy(update={"output": CACHE / f"{name}.safetensors"})


def _task(
    name: str,
    description: str,
    expected_winner: str,
    source: PretrainConfig,
    target: DataConfig,
    train_per_class: int | None,
    training: dict | None = None,
    wrapper: dict | None = None,
    reference: dict | None = None,
) -> SelectionTask:
    backbone = {**source.backbone.model_dump(), "checkpoint": str(source.output)}
    base = TrialConfig.model_validate(
        {
            "backbone": backbone,
            "data": target.model_dump(),
            "split": {
                "seed": 0,
                "val_fraction": 0.2,
                "test_fraction": 0.4,
                "train_per_class": train_per_class,
            },
            "wrapper": wrapper or {},
            "training": {"max_epochs": 15, "batch_size": 16, **(training or {})},
            "optimizer": {"lr": 1e-3},
        }
    )
    return SelectionTask(name, description, expected_winner, source, target, base, reference)


def _population(**options) -> SyntheticData:
    """Four-class target data from the sources' simulated population, with ``options``."""
    values = {"subjects": TARGET_SUBJECTS, "n_classes": 4, "trials_per_class": 40, **options}
    return SyntheticData(**values)


SOURCE_DATA = SyntheticData(subjects=SOURCE_SUBJECTS, n_classes=4, trials_per_class=40)
TWO_CLASS_SOURCE_DATA = SyntheticData(subjects=SOURCE_SUBJECTS, n_classes=2, trials_per_class=80)
"""Left against right hand only, as many trials per subject as ``SOURCE_DATA``."""
SHALLOW_SOURCE = _source(SHALLOW, SOURCE_DATA, epochs=15)
CONFORMER_SOURCE = _source(CONFORMER, SOURCE_DATA, epochs=20)


def _ssvep(subjects: range) -> EpochsData:
    """SSVEP subjects as ``bench/real_data.py`` reads them: 64 Hz (ShallowFBCSPNet's filters
    then span 0.39 s, enough to tell 13 from 17 Hz), aligned and standardised per subject."""
    paths = [REALDATA / "ssvep_exo" / f"sub-{s:02d}-epo.fif" for s in subjects]
    return EpochsData(paths=paths, resample=64.0, align=True, standardise=True)


SSVEP_REFERENCE = {"kind": "canonical_correlation", "frequencies": [13.0, 17.0, 21.0]}
"""SSVEP's own classical pipeline (as in ``bench/real_data.py``): the stimulus frequencies."""
SSVEP_SOURCE = _source(SHALLOW, _ssvep(range(1, 7)), epochs=30, batch_size=32, lr=1e-3)


TASKS: list[SelectionTask] = [
    _task(
        "few_shot",
        "EEGNet; four source subjects recorded again, 2 labelled trials per class and subject: "
        "LP-FT and the linear probe tie at the top, full fine-tuning distorts the features.",
        "a probe (linear or MLP), or LP-FT, which starts as one",
        _source(EEGNET, SOURCE_DATA, epochs=30),
        _population(subjects=SOURCE_SUBJECTS[:4], session=1),
        train_per_class=2,
        training={"max_epochs": 20, "batch_size": 4},
    ),
    _task(
        "new_classes",
        "EEGNet pretrained on left against right hand imagery, adapted to new subjects with "
        "feet and tongue added (4 classes), 5 labelled trials per class and subject: training "
        "the last block wins, 3.3 points ahead of full fine-tune (decisive), LP-FT and the "
        "probes further behind; from scratch does not learn in 15 epochs.",
        "last-k blocks: the features below the last block serve the new classes, the last "
        "block must change, and too few trials to move the rest",
        _source(EEGNET, TWO_CLASS_SOURCE_DATA, epochs=30),
        _population(),
        train_per_class=5,
        training={"batch_size": 8},
    ),
    _task(
        "new_location",
        "The target's desynchronising rhythms sit over F3, F4 and Fz, where the source had "
        "nothing to learn: full fine-tune wins, from scratch second, probes far behind.",
        "fine-tuning or training from scratch",
        SHALLOW_SOURCE,
        _population(trials_per_class=60, rhythm_sites=["F3", "F4", "Fz"]),
        train_per_class=20,
    ),
    _task(
        "shifted_many_trials",
        "Many trials from a shifted population (mu and beta 2.5 and 5 Hz slower, channel gains "
        "spread wider): full fine-tune wins, ahead of from scratch and LP-FT; probes lag.",
        "full fine-tune or LP-FT",
        SHALLOW_SOURCE,
        _population(trials_per_class=80, mu_hz=8.0, beta_hz=16.0, gain_spread=0.5),
        train_per_class=None,
        training={"batch_size": 32},
    ),
    _task(
        "unrelated_source",
        "The source labels were shuffled, so pretraining learnt nothing about the signal: from "
        "scratch and full fine-tune tie, the probes and LP-FT are far below.",
        "from scratch ≈ fine-tune, far above the probes",
        _source(SHALLOW, SOURCE_DATA.model_copy(update={"shuffle_labels": True}), epochs=30),
        _population(),
        train_per_class=15,
    ),
    _task(
        "new_montage",
        "A montage sharing no electrode with the source's, mapped onto its 19 channels by a "
        "trained projection: full fine-tune wins, from scratch second, frozen backbones lag.",
        "full fine-tune (backbone and adapter together)",
        SHALLOW_SOURCE,
        _population(channels=SENSORIMOTOR_1010),
        train_per_class=10,
        wrapper={"channel_adapter_config": {"n_target_channels": 19}},
    ),
    _task(
        "transformer",
        "A small EEGConformer, new subjects with slightly slower mu rhythms: LP-FT, "
        "attention-only, LoRA and full fine-tune within a point (the parameter-efficient two at "
        "a fraction of the trainable parameters); the probes 6 points behind.",
        "any of LP-FT, attention-only, LoRA or full fine-tune (a near tie)",
        CONFORMER_SOURCE,
        _population(mu_hz=9.5),
        train_per_class=10,
    ),
    _task(
        "transformer_few_shot",
        "The small EEGConformer of the transformer task with 3 labelled trials per class and "
        "subject: LP-FT leads LoRA and attention-only by 2.6 points (not beyond noise over 5 "
        "seeds), full fine-tune 3.7 points behind, the probes further.",
        "LP-FT, with LoRA and attention-only close",
        CONFORMER_SOURCE,
        _population(mu_hz=9.5),
        train_per_class=3,
        training={"batch_size": 8},
    ),
    _task(
        "transformer_new_classes",
        "The small EEGConformer pretrained on left against right hand imagery, adapted to new "
        "subjects with feet and tongue added (4 classes), 5 labelled trials per class and "
        "subject: training the attention layers only wins, 4.5 points ahead of full "
        "fine-tune (decisive), LoRA 6 behind, the attentive probe 9.5 and LP-FT 16.6; from "
        "scratch does not learn in 15 epochs.",
        "attention-only (or LoRA): the attention must learn which parts of the trial tell the "
        "new classes apart, with too few trials to move the rest",
        _source(CONFORMER, TWO_CLASS_SOURCE_DATA, epochs=20),
        _population(),
        train_per_class=5,
        training={"batch_size": 8},
    ),
    _task(
        "transformer_same_subjects",
        "The small EEGConformer; four of its source subjects recorded again, 1 labelled trial "
        "per class and subject: the MLP probe wins, 2.3 points ahead of training the last "
        "block and 2.4 ahead of LP-FT (decisive with ten seeds), the linear and attentive "
        "probes close behind it; full fine-tune 10.6 points behind.",
        "a probe: the frozen features already tell these subjects' classes apart, and one "
        "trial per class moves a trained backbone the wrong way",
        CONFORMER_SOURCE,
        _population(subjects=SOURCE_SUBJECTS[:4], session=1),
        train_per_class=1,
        training={"max_epochs": 20, "batch_size": 4},
    ),
    _task(
        "ssvep_few_shot",
        "Real SSVEP: ShallowFBCSPNet pretrained on subjects 1-6, adapted to subjects 7-12 with "
        "8 labelled trials per class and subject: full fine-tune leads from scratch by 8.5 "
        "points (decisive) and LP-FT by 4; the probes at 0.45-0.48. The classical reference "
        "(canonical correlation, no training) scores higher than any of them.",
        "full fine-tune (among the deep strategies)",
        SSVEP_SOURCE,
        _ssvep(range(7, 13)),
        train_per_class=8,
        training={"max_epochs": 30},
        reference=SSVEP_REFERENCE,
    ),
    _task(
        "ssvep_two_shot",
        "Real SSVEP as ssvep_few_shot with 2 labelled trials per class and subject: too few to "
        "fine-tune the backbone on: LP-FT leads the linear probe by 3 points (not beyond noise), "
        "full fine-tune 9 points behind, from scratch at chance.",
        "LP-FT or a probe",
        SSVEP_SOURCE,
        _ssvep(range(7, 13)),
        train_per_class=2,
        training={"max_epochs": 30, "batch_size": 8},
        reference=SSVEP_REFERENCE,
    ),
]
