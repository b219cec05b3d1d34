"""Checkpoint dirs: a Hugging Face model dir plus everything needed to resume exactly.

`checkpoint-<step>/` and `checkpoint-final/` hold
- `config.json` + `model.safetensors` (`BertForPreTraining.from_pretrained` loads them),
  `sbo_head.pt` when the SBO head is trained;
- the vocab dir's tokenizer files, so `BertTokenizerFast.from_pretrained` works on it;
- `trainer_state.pt`: step, optimizer, LR scheduler, loader position and RNG states;
- `trainer_args.json`: the step and the run's arguments (read by `latest_checkpoint`).
A checkpoint is written to a temporary dir and renamed, so a crash never leaves a
half-written `checkpoint-*` that `--resume` would pick up.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import torch

from trainer.model import BertPretrainer

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json",
                   "special_tokens_map.json")
STATE_FILE = "trainer_state.pt"
ARGS_FILE = "trainer_args.json"
_STEP_DIR = re.compile(r"checkpoint-(\d+)$")
_CHECKPOINT_DIR = re.compile(r"checkpoint-(\d+|final)")


def save_checkpoint(directory: Path, model: BertPretrainer, state: dict, vocab_dir: Path,
                    args: dict) -> None:
    """Write the checkpoint atomically (temp dir + rename), replacing an older one."""
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save(tmp)
    for name in TOKENIZER_FILES:
        if (vocab_dir / name).is_file():
            shutil.copy2(vocab_dir / name, tmp / name)
    torch.save(state, tmp / STATE_FILE)
    info = {"step": state["step"], "args": args}
    (tmp / ARGS_FILE).write_text(json.dumps(info, indent=2, default=str))
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)


def latest_checkpoint(output: Path) -> Path | None:
    """The complete checkpoint (`checkpoint-<step>` or `-final`) with the highest step."""
    found = [(json.loads((p / ARGS_FILE).read_text())["step"], p)
             for p in output.glob("checkpoint-*")
             if _CHECKPOINT_DIR.fullmatch(p.name) and (p / ARGS_FILE).is_file()]
    return max(found)[1] if found else None


def prune_checkpoints(output: Path, keep: int) -> None:
    """Delete all but the `keep` newest `checkpoint-<step>` dirs."""
    steps = sorted((int(m.group(1)), p) for p in output.glob("checkpoint-*")
                   if (m := _STEP_DIR.search(p.name)))
    for _, path in steps[:-keep] if keep > 0 else []:
        shutil.rmtree(path, ignore_errors=True)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
