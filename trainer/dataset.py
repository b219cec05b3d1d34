"""Iterable dataset of whole collated batches, sliced per data-parallel rank and worker.

Position in the data is (epoch, consumed_samples): consumed_samples counts samples of the
whole world (all ranks) inside the epoch and is always a multiple of the global batch.
Global batch k of an epoch is `order[k*G:(k+1)*G]` with G = batch_size x world_size and
`order` from `trainer.permutation.global_order`; rank r takes rows [r*B, (r+1)*B) of it.
DataLoader workers take the batches round-robin (worker w yields the j-th batch of the
stream when j % num_workers == w), which is the order the DataLoader reads them back in,
so the stream does not depend on num_workers. Resuming at (epoch, consumed_samples) gives
exactly the batches an uninterrupted run would have seen from there, on any world size
that keeps the global batch.

`ShardLoader` wraps the torch DataLoader and counts what the trainer actually consumed
(workers prefetch ahead), which is the state a checkpoint must store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from trainer.collate import CollateConfig, collate, to_torch
from trainer.permutation import global_order
from trainer.shard_reader import ShardReader


def data_parallel_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """(rank, world size): explicit values, else torch.distributed's, else (0, 1)."""
    if rank is not None and world_size is not None:
        return rank, world_size
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class ShardDataset(IterableDataset):
    """Yields compact collated batches (see `trainer.collate`) for this rank.

    `max_epochs=None` streams forever (the trainer stops at max steps); otherwise the stream
    ends after that many epochs counted from epoch 0.
    """

    def __init__(self, shard_dir: str | Path, collate_cfg: CollateConfig, *, batch_size: int,
                 seed: int = 0, rank: int | None = None, world_size: int | None = None,
                 group_windows: int = 0, max_epochs: int | None = None) -> None:
        super().__init__()
        self.reader = ShardReader(shard_dir)
        self.collate_cfg = collate_cfg
        self.batch_size = batch_size
        self.seed = seed
        self.rank, self.world_size = data_parallel_world(rank, world_size)
        self.group_windows = group_windows
        self.max_epochs = max_epochs
        self.global_batch = batch_size * self.world_size
        self.batches_per_epoch = self.reader.num_rows // self.global_batch
        if self.batches_per_epoch == 0:
            raise ValueError(f"{self.reader.num_rows} rows cannot fill one global batch of "
                             f"{self.global_batch} ({batch_size} x {self.world_size} ranks)")
        self.epoch = 0
        self.consumed_samples = 0

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "consumed_samples": self.consumed_samples,
                "seed": self.seed, "global_batch": self.global_batch}

    def load_state_dict(self, state: dict) -> None:
        if state["consumed_samples"] % self.global_batch:
            raise ValueError(f"consumed_samples {state['consumed_samples']} is not a multiple "
                             f"of the global batch {self.global_batch}")
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(f"loader state is for seed {state['seed']}, not {self.seed}")
        self.epoch = int(state["epoch"])
        self.consumed_samples = int(state["consumed_samples"])

    def advance(self) -> None:
        """Move the position past one global batch (rolling over to the next epoch)."""
        self.consumed_samples += self.global_batch
        if self.consumed_samples >= self.batches_per_epoch * self.global_batch:
            self.epoch, self.consumed_samples = self.epoch + 1, 0

    def epoch_order(self, epoch: int) -> np.ndarray:
        return global_order(self.reader.num_rows, self.global_batch, self.seed, epoch,
                            group_windows=self.group_windows, lengths_of=self.reader.lengths)

    def _positions(self) -> Iterator[tuple[int, int]]:
        """(epoch, global batch index) from the current position onwards."""
        epoch, k = self.epoch, self.consumed_samples // self.global_batch
        while self.max_epochs is None or epoch < self.max_epochs:
            yield from ((epoch, j) for j in range(k, self.batches_per_epoch))
            epoch, k = epoch + 1, 0

    def rank_rows(self, order: np.ndarray, k: int) -> np.ndarray:
        lo = k * self.global_batch + self.rank * self.batch_size
        return order[lo:lo + self.batch_size].astype(np.int64)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        order_epoch, order = None, None
        for j, (epoch, k) in enumerate(self._positions()):
            if j % workers != worker:
                continue
            if epoch != order_epoch:
                order_epoch, order = epoch, self.epoch_order(epoch)
            rows = self.rank_rows(order, k)
            batch = to_torch(collate(self.reader, rows, self.collate_cfg))
            if info is None:
                self.advance()
            yield batch


class ShardLoader:
    """A DataLoader over a ShardDataset that knows how much the trainer consumed."""

    def __init__(self, dataset: ShardDataset, *, num_workers: int = 0, pin_memory: bool = False,
                 prefetch_factor: int = 4) -> None:
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.prefetch_factor = prefetch_factor
        self._position = dataset.state_dict()

    def state_dict(self) -> dict:
        return dict(self._position)

    def load_state_dict(self, state: dict) -> None:
        self.dataset.load_state_dict(state)
        self._position = self.dataset.state_dict()

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        self.dataset.load_state_dict(self._position)
        loader = DataLoader(
            self.dataset, batch_size=None, num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            prefetch_factor=self.prefetch_factor if self.num_workers else None,
            # Its own generator: a new iterator draws a base seed, and drawing it from the
            # global RNG would shift dropout masks after a resume.
            generator=torch.Generator(),
        )
        for batch in loader:
            self.dataset.load_state_dict(self._position)
            self.dataset.advance()
            self._position = self.dataset.state_dict()
            yield batch
