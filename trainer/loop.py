"""The training loop behind `python -m trainer.train` (single process or torchrun).

One optimizer step = `--grad-accum` micro-batches of `--batch-size` rows per rank, so the
global batch is batch_size x grad_accum x world_size. With packed shards a row holds
several instances, so a step sees more instances than rows (`samples_per_s` counts
instances); divide the unpacked batch size by the shards' instances per row (manifest
totals: instances / rows) to keep the instances per step. AdamW (no decay on biases and
LayerNorm) with linear warmup and linear decay to 0 at `--max-steps`, gradient clipping at
1.0, bf16 autocast on CUDA and fp32 on CPU. Under torchrun (WORLD_SIZE set) it joins a
process group (nccl on CUDA, gloo on CPU) and wraps the model in DDP; only rank 0 writes.
Loss statistics are accumulated on the device and reduced only at logging steps.
`metrics.jsonl` also carries `data_wait`: the fraction of rank 0's wall time spent waiting
for the loader (near 0 when the loader keeps up).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from core.errors import UserError
from core.special_tokens import SPECIAL_TOKENS
from trainer.checkpoint import (
    STATE_FILE,
    latest_checkpoint,
    prune_checkpoints,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from trainer.collate import CollateConfig, expand
from trainer.dataset import ShardDataset, ShardLoader
from trainer.model import BertPretrainer, SboConfig, bert_config
from trainer.progress import StepProgress, progress

STAT_NAMES = ("loss", "mlm_loss", "sentence_loss", "sbo_loss", "sentence_rows", "samples",
              "tokens", "micro_batches")


def read_vocab(vocab_dir: Path, manifest: dict) -> tuple[int, int]:
    """(vocab size, [PAD] id) from vocab.txt, which must be the shards' own vocab."""
    path = vocab_dir / "vocab.txt"
    if not path.is_file():
        raise UserError(f"no vocab.txt in --vocab {vocab_dir}")
    data = path.read_bytes()
    expected = (manifest.get("vocab") or {}).get("sha256")
    if not expected:
        raise UserError("the --shards manifest records no vocab sha256, so --vocab cannot be "
                        "checked against it (not a shard dir written by `shards`)")
    if hashlib.sha256(data).hexdigest() != expected:
        raise UserError(f"{path} is not the vocab the shards were built with (sha256 differs)")
    tokens = data.decode("utf-8").splitlines()
    pad = SPECIAL_TOKENS["pad"]
    if pad not in tokens:
        raise UserError(f"{path} has no {pad} token")
    return len(tokens), tokens.index(pad)


def _find(tree: object, key: str) -> object:
    """First value stored under `key` anywhere in a nested JSON object."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        for value in tree.values():
            if (found := _find(value, key)) is not None:
                return found
    return None


def setup_distributed() -> tuple[int, int, int, torch.device]:
    """(rank, world size, local rank, device); joins the process group under torchrun."""
    cuda = torch.cuda.is_available()
    if "WORLD_SIZE" not in os.environ:
        return 0, 1, 0, torch.device("cuda" if cuda else "cpu")
    local = int(os.environ.get("LOCAL_RANK", 0))
    if cuda:
        torch.cuda.set_device(local)
    torch.distributed.init_process_group("nccl" if cuda else "gloo")
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    return torch.distributed.get_rank(), torch.distributed.get_world_size(), local, device


def make_optimizer(model: torch.nn.Module, args: argparse.Namespace):
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": args.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-6,
                            fused=torch.cuda.is_available() or None)
    warmup = args.warmup_steps if args.warmup_steps is not None else max(1, args.max_steps // 100)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (args.max_steps - step) / max(1, args.max_steps - warmup))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


class NothingToTrain(Exception):
    """`--resume` found a checkpoint at or past `--max-steps`."""

    def __init__(self, ckpt: Path, step: int, max_steps: int) -> None:
        super().__init__(f"nothing left to train: {ckpt} is at step {step} and --max-steps is "
                         f"{max_steps}; raise --max-steps to train on (no checkpoint written)")


class Trainer:
    """The training state of one rank and the step loop."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rank, self.world, _, self.device = setup_distributed()
        torch.manual_seed(args.seed)
        if not (args.shards / "manifest.json").is_file():
            raise UserError(f"no manifest.json in --shards {args.shards}")
        manifest_bytes = (args.shards / "manifest.json").read_bytes()
        self.shards_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
        self.global_batch = args.batch_size * args.grad_accum * self.world
        manifest = json.loads(manifest_bytes)
        vocab_size, pad_id = read_vocab(args.vocab, manifest)
        sbo_on = args.sbo == "on" or (args.sbo == "auto" and _find(manifest, "masking") == "span")
        self.sbo = SboConfig(position_size=64 if args.config == "tiny" else 200) if sbo_on else None
        max_len = int(_find(manifest, "max_seq_length") or 512)
        self.model = BertPretrainer(bert_config(args.config, vocab_size, pad_id, max_len),
                                    self.sbo).to(self.device)
        self.optimizer, self.scheduler = make_optimizer(self.model, args)
        cfg = CollateConfig(pad_id=pad_id, vocab_size=vocab_size,
                            sbo_max_targets=self.sbo.max_targets if self.sbo else 0)
        try:
            dataset = ShardDataset(args.shards, cfg, batch_size=args.batch_size, seed=args.seed,
                                   rank=self.rank, world_size=self.world,
                                   group_windows=args.group_by_length)
        except ValueError as e:  # fewer rows than one global batch
            raise UserError(f"--batch-size {args.batch_size}: {e}") from e
        self.loader = ShardLoader(dataset, num_workers=args.num_workers,
                                  pin_memory=self.device.type == "cuda")
        self.step = 0
        self.data_wait = 0.0  # seconds spent in the loader since the last log line
        if args.resume and (ckpt := latest_checkpoint(args.output)):
            self._resume(ckpt)
        n_params = sum(p.numel() for p in self.model.parameters())
        progress(f"model {args.config} ({n_params / 1e6:.1f}M parameters) on {self.device}, "
                 f"{dataset.reader.num_rows:,} rows, global batch {self.global_batch}, "
                 f"steps {self.step}→{args.max_steps}")
        self.ddp = (DistributedDataParallel(self.model, device_ids=[self.device.index]
                                            if self.device.type == "cuda" else None)
                    if self.world > 1 else None)

    def _resume(self, ckpt: Path) -> None:
        """Continue from `ckpt`, refusing what cannot continue exactly: another shard dir,
        another global batch, or damaged files (each one line)."""
        try:
            state = torch.load(ckpt / STATE_FILE, weights_only=False, map_location="cpu")
            step, loader_state = int(state["step"]), state["loader"]
        except Exception as e:  # noqa: BLE001 - any unreadable pickle is the same damage
            raise UserError(f"cannot resume: {ckpt / STATE_FILE} is damaged "
                            f"({type(e).__name__})") from e
        for key, now, what in (("shards_manifest_sha256", self.shards_sha256,
                                "a different shard dir (manifest sha256 differs)"),
                               ("global_batch", self.global_batch, "a different global batch")):
            if key in state and state[key] != now:
                raise UserError(f"cannot resume {ckpt}: it was trained on {what}: "
                                f"{state[key]} there, {now} now")
        if step >= self.args.max_steps:
            raise NothingToTrain(ckpt, step, self.args.max_steps)
        try:
            loaded = BertPretrainer.load(ckpt).to(self.device)
        except Exception as e:  # noqa: BLE001 - transformers/safetensors raise many types
            raise UserError(f"cannot resume: the model in {ckpt} is damaged "
                            f"({type(e).__name__})") from e
        self.model.load_state_dict(loaded.state_dict())
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        try:
            self.loader.load_state_dict(loader_state)
        except ValueError as e:  # e.g. a global batch that does not divide the position
            raise UserError(f"cannot resume {ckpt}: {e}") from e
        set_rng_state(state["rng"])
        self.step = step
        self.log(f"resumed from {ckpt} at step {self.step}")

    def log(self, message: str) -> None:
        if self.rank == 0:
            print(message, file=sys.stderr, flush=True)

    def autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def micro_step(self, batch: dict, stats: torch.Tensor, last: bool) -> None:
        b = expand(batch, self.device, self.sbo.max_targets if self.sbo else 0)
        module = self.ddp or self.model
        sync = contextlib.nullcontext() if last or self.ddp is None else self.ddp.no_sync()
        with sync:
            with self.autocast():
                losses = module(b)
            (losses["loss"] / self.args.grad_accum).backward()
        self.last_loss = losses["loss"].detach()
        zero = torch.zeros((), device=self.device)
        stats += torch.stack([
            losses["loss"].detach(), losses["mlm_loss"].detach(),
            losses["sentence_loss"].detach(), losses.get("sbo_loss", zero).detach(),
            (b["sentence_label"] >= 0).sum(), b["instances"],
            b["real_tokens"], torch.ones((), device=self.device),
        ]).double()

    def train(self) -> None:
        args = self.args
        if self.rank == 0:
            args.output.mkdir(parents=True, exist_ok=True)
        batches = iter(self.loader)
        stats = torch.zeros(len(STAT_NAMES), dtype=torch.float64, device=self.device)
        self.model.train()
        started = time.perf_counter()
        steps = StepProgress(self.step, args.max_steps, self.global_batch)
        while self.step < args.max_steps:
            for micro in range(args.grad_accum):
                asked = time.perf_counter()
                batch = next(batches)
                self.data_wait += time.perf_counter() - asked
                self.micro_step(batch, stats, last=micro == args.grad_accum - 1)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            if self.rank == 0 and steps.due(self.step):
                progress(steps.line(self.step, self.last_loss.item()))
            if self.step % args.log_every == 0 or self.step == args.max_steps:
                self.write_metrics(stats, time.perf_counter() - started)
                stats.zero_()
                started, self.data_wait = time.perf_counter(), 0.0
            if args.save_every and self.step % args.save_every == 0 and self.step < args.max_steps:
                self.save(args.output / f"checkpoint-{self.step}")
                if self.rank == 0:
                    prune_checkpoints(args.output, args.keep_checkpoints)
        self.save(args.output / "checkpoint-final")
        if self.world > 1:
            torch.distributed.destroy_process_group()

    def write_metrics(self, stats: torch.Tensor, seconds: float) -> None:
        if self.world > 1:
            torch.distributed.all_reduce(stats)
        s = dict(zip(STAT_NAMES, stats.tolist(), strict=True))
        n = s["micro_batches"]
        record = {
            "step": self.step,
            "loss": s["loss"] / n,
            "mlm_loss": s["mlm_loss"] / n,
            "sentence_loss": s["sentence_loss"] / n if s["sentence_rows"] else None,
            "sbo_loss": s["sbo_loss"] / n if self.sbo else None,
            "samples_per_s": s["samples"] / seconds,
            "tokens_per_s": s["tokens"] / seconds,
            "data_wait": self.data_wait / seconds,
            "lr": self.scheduler.get_last_lr()[0],
            "epoch": self.loader.state_dict()["epoch"],
        }
        if self.rank == 0:
            with open(self.args.output / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
            self.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in record.items()))

    def save(self, directory: Path) -> None:
        if self.rank != 0:
            return
        state = {"step": self.step, "shards_manifest_sha256": self.shards_sha256,
                 "global_batch": self.global_batch, "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), "loader": self.loader.state_dict(),
                 "rng": rng_state()}
        save_checkpoint(directory, self.model, state, self.args.vocab, vars(self.args))
        self.log(f"saved {directory}")
