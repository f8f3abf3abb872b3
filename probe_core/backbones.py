"""Pretrained backbones: any braindecode model by name, with its weights, ready to be wrapped.

Like timm's ``create_model``: one name-based registry (braindecode's own, 70+ models), one
constructor signature (``n_chans``, ``n_outputs``, ``n_times``, ``sfreq``, ``chs_info``) filled
from the data, and the weights from a checkpoint.
"""

import difflib
import json
import logging
from pathlib import Path
from typing import Any

import pydantic
import torch
from torch import nn

from probe_core.backbone_profiles import (
    check_files,
    made_for,
    missing_files_hint,
    montage_mapper,
    profile,
    provide_files,
)
from probe_core.dataset import EEGDataset
from probe_core.errors import CheckpointError, ConfigError
from probe_core.wrapper import accepted_keywords

log = logging.getLogger(__name__)

HEAD = "final_layer"
"""braindecode's name for a model's classification head."""


def _registry() -> dict[str, type[nn.Module]]:
    """braindecode's models by name, its ``Interpolated*`` variants (any montage mapped onto
    a model's channels) among them."""
    from braindecode.models.util import interpolated_models_dict, models_dict

    return {**models_dict, **interpolated_models_dict}


def model_names() -> list[str]:
    return sorted(_registry())


def model_class(name: str) -> type[nn.Module]:
    known = _registry()
    if name in known:
        return known[name]
    lowered = {key.lower(): key for key in known}
    close = difflib.get_close_matches(name.lower(), lowered, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(lowered[c] for c in close)}?" if close else ""
    raise ConfigError(f"backbone.name: unknown braindecode model {name!r}{hint}")


class BackboneConfig(pydantic.BaseModel):
    """A braindecode model and where its weights come from.

    - ``checkpoint``: a ``.pt`` state dict (loaded with ``weights_only``), a ``.safetensors``
      file, or a directory / Hugging Face hub id for braindecode's ``from_pretrained`` (which
      also restores the saved constructor arguments). ``None``: random initialisation.
    - ``allow_partial_load``: accept missing, unexpected or mis-shaped keys (reported in the log);
      otherwise a mismatch is an error that lists them.
    - ``keep_head``: keep the model's own classification head (``final_layer``); by default it is
      removed so the backbone outputs its embedding and the probe replaces the head.
    - ``files``: local copies of files the model downloads when it is built (REVE: ``positions``,
      its channel-position bank), for machines without internet.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    name: str
    kwargs: dict[str, Any] = {}
    checkpoint: str | None = None
    allow_partial_load: bool = False
    keep_head: bool = False
    files: dict[str, Path] = {}

    @pydantic.field_validator("name")
    @classmethod
    def _known_model(cls, name: str) -> str:
        model_class(name)
        return name

    @pydantic.model_validator(mode="after")
    def _files_known(self) -> "BackboneConfig":
        check_files(self.name, self.files)
        return self

    def build(
        self, data: EEGDataset, n_outputs: int, n_chans: int | None = None, pretrained: bool = True
    ) -> nn.Module:
        """The backbone for ``data`` (``n_chans`` overrides the data's channel count when a
        channel adapter sits in front); ``pretrained=False`` skips the checkpoint."""
        n_chans = data.n_chans if n_chans is None else n_chans
        checkpoint = self.checkpoint if pretrained else None
        provide_files(self.name, self.files)
        if checkpoint is not None and _is_pretrained_directory_or_hub_id(checkpoint):
            model = self._from_pretrained(checkpoint, data, n_chans)
        else:
            model = self._construct(data, n_outputs, n_chans)
            if checkpoint is not None:
                self._load_state_dict(model, Path(checkpoint))
        if not self.keep_head:
            remove_head(model)
        return model

    def _construct(self, data: EEGDataset, n_outputs: int, n_chans: int) -> nn.Module:
        arguments: dict[str, Any] = {
            "n_chans": n_chans,
            "n_outputs": n_outputs,
            "n_times": data.n_times,
            "sfreq": data.sfreq,
        }
        if n_chans == data.n_chans:
            arguments["chs_info"] = data.chs_info()
        arguments.update(profile(self.name).kwargs)
        arguments.update(self.kwargs)
        try:
            return model_class(self.name)(**arguments)
        except (TypeError, ValueError, RuntimeError) as error:
            substitute = montage_mapper(self.name)
            if substitute is None or "chs_info" not in arguments:
                raise self._refusal(error) from None
            why = str(error).split(". ")[0]
            log.info(
                "%s refuses the data's %d channels (%s); %s maps them onto its own",
                *(self.name, n_chans, why, substitute),
            )
        try:
            return model_class(substitute)(**arguments)
        except (TypeError, ValueError, RuntimeError) as error:
            raise self._refusal(error) from None

    def _refusal(self, error: Exception) -> ConfigError:
        hint = made_for(self.name) + missing_files_hint(self.name, self.files)
        return ConfigError(f"backbone {self.name}: cannot be built for this data ({error}){hint}")

    def pretrained_config(self) -> dict[str, Any]:
        """The constructor arguments a ``from_pretrained`` checkpoint was saved with (its
        ``config.json``: ``sfreq``, ``n_times``, ``chs_info`` …); empty for a weights file, a
        checkpoint not written yet (pretraining writes it), or an unreachable hub id (the load
        says why)."""
        checkpoint = self.checkpoint
        if checkpoint is None or not _is_pretrained_directory_or_hub_id(checkpoint):
            return {}
        try:
            if Path(checkpoint).is_dir():
                path = Path(checkpoint) / "config.json"
            else:
                from huggingface_hub import hf_hub_download

                path = Path(hf_hub_download(checkpoint, "config.json"))
            config: dict[str, Any] = json.loads(path.read_text())
        except Exception:  # noqa: BLE001 - offline, missing or unreadable: load says which
            return {}
        return config

    def _from_pretrained(self, checkpoint: str, data: EEGDataset, n_chans: int) -> nn.Module:
        try:
            # braindecode models take from_pretrained from a mixin nn.Module lacks
            pretrained: Any = model_class(self.name)
            model: nn.Module = pretrained.from_pretrained(checkpoint, **self.kwargs)
        except (OSError, ValueError) as error:
            raise CheckpointError(f"backbone.checkpoint {checkpoint}: {error}") from None
        expected = getattr(model, "n_chans", n_chans)
        unknown = _names_it_lacks(model, data.ch_names) if n_chans == data.n_chans else None
        if expected == n_chans or unknown == []:
            return model
        more = "…" if unknown and len(unknown) > 3 else ""
        by_name = f" ({', '.join(unknown[:3])}{more} not among them)" if unknown else ""
        raise CheckpointError(
            f"backbone.checkpoint {checkpoint}: the pretrained {self.name} expects "
            f"{expected} channels{by_name}, the data has {n_chans}; add a channel adapter "
            "(wrapper.channel_adapter_config)"
        )

    def _load_state_dict(self, model: nn.Module, path: Path) -> None:
        if not path.is_file():
            raise CheckpointError(f"backbone.checkpoint {path}: file not found")
        state = read_state_dict(path)
        if not self.keep_head:  # the head is replaced by the probe: its weights do not matter
            state = {k: v for k, v in state.items() if not k.startswith(f"{HEAD}.")}
        own = {
            k: v
            for k, v in model.state_dict().items()
            if self.keep_head or not k.startswith(f"{HEAD}.")
        }
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        mismatched = sorted(
            f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
            for k in set(own) & set(state)
            if state[k].shape != own[k].shape
        )
        if (missing or unexpected or mismatched) and not self.allow_partial_load:
            raise CheckpointError(
                f"backbone.checkpoint {path} does not fit {self.name}: missing keys {missing[:5]}"
                f"{'…' if len(missing) > 5 else ''}, unexpected keys {unexpected[:5]}"
                f"{'…' if len(unexpected) > 5 else ''}, shape mismatches {mismatched[:3]} "
                "(a different channel count or architecture; set allow_partial_load to accept)"
            )
        loadable = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
        model.load_state_dict(loadable, strict=False)
        if missing or unexpected or mismatched:
            log.warning(
                "partial load of %s: %d missing, %d unexpected, %d mis-shaped keys",
                path,
                len(missing),
                len(unexpected),
                len(mismatched),
            )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from a ``.safetensors`` file or a ``.pt`` file (``weights_only``: no code runs)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"backbone.checkpoint {path}: unreadable ({error})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"backbone.checkpoint {path}: not a state dict")
    return state


def save_state_dict(model: nn.Module, path: Path) -> None:
    """Write ``model``'s weights as ``.safetensors`` or ``.pt`` by the file's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, path)
    else:
        torch.save(state, path)


class NoHead(nn.Module):
    """Where a head was: returns its input, ignoring what else a model hands its head
    (EEGDINO passes the channel count)."""

    def forward(self, x: torch.Tensor, *_: object, **__: object) -> torch.Tensor:
        return x


def remove_head(model: nn.Module) -> None:
    """Replace braindecode's ``final_layer`` by ``NoHead`` so the model returns its embedding."""
    head = getattr(model, HEAD, None)
    if isinstance(head, nn.ModuleList):  # one head per branch (ATCNet's sliding windows)
        setattr(model, HEAD, nn.ModuleList(NoHead() for _ in head))
    elif isinstance(head, nn.Module):
        setattr(model, HEAD, NoHead())


def _names_it_lacks(model: nn.Module, ch_names: list[str]) -> list[str] | None:
    """Which of ``ch_names`` ``model`` lacks, if it takes a subset of its channels by name at
    forward (LaBraM's vocabulary of 128); ``None`` if it reads its channels by position."""
    keywords = accepted_keywords(model)
    own = {ch["ch_name"].upper() for ch in getattr(model, "chs_info", None) or []}
    if not own or (keywords is not None and "ch_names" not in keywords):
        return None
    return [name for name in ch_names if name.upper() not in own]


def _is_pretrained_directory_or_hub_id(checkpoint: str) -> bool:
    path = Path(checkpoint)
    if path.is_dir():
        return True
    looks_like_hub_id = checkpoint.count("/") == 1 and not path.suffix and not path.exists()
    return looks_like_hub_id and not checkpoint.startswith((".", "/", "~"))
