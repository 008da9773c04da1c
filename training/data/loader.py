"""`PlanLoader`: packed batches that follow the mixture plan, per data-parallel rank, resumable.

The plan fixes, for every phase, how many ``seq_len`` sequences each source contributes and in
which order they come (see `schedule.py`). Each source is an endless token stream: its documents
(each ending with EOS) concatenated in a seeded permutation per epoch, so a source that runs out
wraps around with a fresh order. A source's n-th sequence is simply the stream's tokens
``[offset, offset + seq_len)``, so every sequence is a pure function of its global index: DP
sharding (global sequence i goes to rank ``i % world``) and exact resume need no replay.

Packing: ``position_ids`` restart at 0 at each document start and continue across sequences for a
document longer than ``seq_len``; ``labels`` equal ``input_ids`` (HF convention: the model shifts
them) except -100 where a document starts, since its first token cannot be predicted from the
previous document. Each sequence comes from one source, so ``Batch.domains`` drives per-domain loss.

Curriculum (``curriculum``): ``documents`` streams each source's documents sorted by their
difficulty (or quality) key, easiest first, while sources stay interleaved by the greedy blend, so
every stretch of a phase keeps the planned mixture and each source gets harder as the phase goes
on; ``sources`` also streams the sources one after another in the plan's ``order``. Sorting is
within the stretch of the source's stream each phase draws (its documents of the epoch's random
order), so a phase that draws a tenth of a source sees a random tenth, easiest first; a phase
that draws more than one epoch ramps up once per epoch.
"""

from __future__ import annotations

import hashlib
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import torch

from training.data.schedule import Phase, build_phases
from training.data.shards import SourceShards

STATE_VERSION = 1


@dataclass
class Batch:
    input_ids: torch.Tensor  # LongTensor [B, seq_len]
    labels: torch.Tensor  # LongTensor [B, seq_len]; -100 at document starts
    position_ids: torch.Tensor  # LongTensor [B, seq_len]; 0 at document starts
    sources: list[str]  # source of each row
    domains: list[str]  # domain of each row (from the plan)
    phase: int

    def to(self, device: torch.device | str) -> Batch:
        move = {k: getattr(self, k).to(device) for k in ("input_ids", "labels", "position_ids")}
        return Batch(**move, sources=self.sources, domains=self.domains, phase=self.phase)


class PlanLoader:
    """Iterate this rank's micro-batches of the plan, from the current position to the end."""

    def __init__(
        self,
        tokens_dir: str | Path,
        plan: pl.DataFrame,
        *,
        micro_batch_size: int,
        dp_rank: int = 0,
        dp_world_size: int = 1,
        seed: int = 0,
        follow_curriculum: bool = False,
        curriculum: str = "off",
        curriculum_key: str = "difficulty",
        curriculum_descending: bool = False,
        position_ids: str | dict[int, str] = "document",
        loss_mask: dict[str, str] | None = None,
    ):
        if micro_batch_size < 1:
            raise ValueError(f"micro_batch_size must be >= 1, got {micro_batch_size}")
        if not 0 <= dp_rank < dp_world_size:
            raise ValueError(f"dp_rank must be in [0, {dp_world_size}), got {dp_rank}")
        self.tokens_dir = Path(tokens_dir)
        if not self.tokens_dir.is_dir():
            raise FileNotFoundError(f"{self.tokens_dir}: no tokens folder; run `midtrain tokenize` first")
        self.micro_batch_size, self.dp_rank, self.dp_world_size = micro_batch_size, dp_rank, dp_world_size
        if curriculum not in ("off", "documents", "sources"):
            raise ValueError(f"curriculum must be off, documents or sources, got {curriculum!r}")
        if follow_curriculum and curriculum == "off":
            curriculum = "sources"
        self.curriculum, self.seed = curriculum, seed
        self.follow_curriculum = curriculum == "sources"
        # documents in curriculum order (both modes); sources one after another only for "sources"
        self._order_by = curriculum_key if curriculum != "off" else None
        self._descending = curriculum_descending
        self._positions = position_ids  # "document" | "sequence", or {plan phase: mode} (default document)
        self.phases: list[Phase] = build_phases(plan, follow_curriculum=self.follow_curriculum)

        used = sorted(
            {s for ph in self.phases for s, n in zip(ph.sources, ph.num_sequences, strict=True) if n > 0}
        )
        self.shards = {s: SourceShards(self.tokens_dir / s, s) for s in used}
        self._masked = self._check_loss_mask(loss_mask or {})  # sources trained on responses only
        unordered = [
            s for s, sh in self.shards.items() if self._order_by and self._order_by not in sh.doc_keys
        ]
        if unordered:
            warnings.warn(
                f"curriculum: source(s) {unordered} have no per-document {self._order_by} "
                f"({self.tokens_dir}/<source>/*.ds.{self._order_by}, written by `midtrain tokenize` from "
                "curated metadata); their documents stay in random order",
                stacklevel=2,
            )
        self._source_key = {s: zlib.crc32(s.encode()) for s in used}
        # Token offset of each (phase, source) in the source's stream: what earlier phases drew.
        drawn = dict.fromkeys(used, 0)
        self._base: list[dict[str, int]] = []
        for ph in self.phases:
            self._base.append(dict(drawn))
            for s, n in zip(ph.sources, ph.num_sequences, strict=True):
                if n > 0:
                    drawn[s] += int(n) * ph.seq_len
        self._drawn_total = drawn
        # Stream token windows [start, end) each phase draws from each source (curriculum sorting).
        self._windows: dict[str, list[tuple[int, int]]] = {s: [] for s in used}
        for p, ph in enumerate(self.phases):
            for s, n in zip(ph.sources, ph.num_sequences, strict=True):
                if n > 0:
                    start = self._base[p][s]
                    self._windows[s].append((start, start + int(n) * ph.seq_len))
        starts = np.cumsum([0] + [ph.size for ph in self.phases])
        self._phase_start = starts[:-1]
        # This rank's sequences in phase p are phase-local indices first[p], first[p] + W, ...
        self._first = [int((dp_rank - g0) % dp_world_size) for g0 in self._phase_start]
        self._local = [
            max(0, -(-(ph.size - f) // dp_world_size)) for ph, f in zip(self.phases, self._first, strict=True)
        ]
        for ph in self.phases:
            if ph.size % (micro_batch_size * dp_world_size):
                warnings.warn(
                    f"plan phase {ph.index}: {ph.size} sequences is not a multiple of micro_batch_size x "
                    f"dp_world_size = {micro_batch_size * dp_world_size}; its last micro-batches are short "
                    "or ranks get unequal counts",
                    stacklevel=2,
                )
        self._phase, self._pos = 0, 0  # next batch: phase index, local sequence index in it
        self._skip_empty()
        self._epoch_cache: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {s: {} for s in used}
        self._max_ids: dict[str, int] = {}
        self._fingerprint = self._make_fingerprint()  # state_dict() runs every step: hash once

    # ------------------------------------------------------------------ sizes and reports
    @property
    def num_sequences_total(self) -> int:
        """Sequences in the whole plan, over all ranks."""
        return int(sum(ph.size for ph in self.phases))

    def steps_for(self, global_batch_sequences: int) -> int:
        """Optimizer steps to consume the plan with ``global_batch_sequences`` sequences per step
        (a phase's last step may be short: phases never share a step)."""
        if global_batch_sequences < 1:
            raise ValueError(f"global_batch_sequences must be >= 1, got {global_batch_sequences}")
        return int(sum(-(-ph.size // global_batch_sequences) for ph in self.phases))

    def __len__(self) -> int:
        """Micro-batches this rank yields over the whole plan."""
        return int(sum(-(-n // self.micro_batch_size) for n in self._local))

    def epochs(self) -> dict[str, float]:
        """Epochs drawn so far from each source (over all ranks, up to the current position)."""
        if self._phase >= len(self.phases):
            return {s: self._drawn_total[s] / self.shards[s].num_tokens for s in self.shards}
        ph = self.phases[self._phase]
        upto = min(self._first[self._phase] + self._pos * self.dp_world_size, ph.size)
        counts = np.bincount(ph.source_of[:upto], minlength=len(ph.sources))
        tokens = dict(self._base[self._phase])
        for s, c in zip(ph.sources, counts, strict=True):
            if s in tokens:
                tokens[s] += int(c) * ph.seq_len
        return {s: tokens[s] / self.shards[s].num_tokens for s in self.shards}

    def summary(self) -> pl.DataFrame:
        """Per phase and source: sequences, tokens and cumulative epochs at the end of the phase."""
        rows, drawn = [], dict.fromkeys(self.shards, 0)
        for ph in self.phases:
            for s, d, n in zip(ph.sources, ph.domains, ph.num_sequences, strict=True):
                if n > 0:
                    drawn[s] += int(n) * ph.seq_len
                epochs = drawn[s] / self.shards[s].num_tokens if s in self.shards else 0.0
                rows.append((ph.index, s, d, int(n), int(n) * ph.seq_len, epochs))
        schema = ["phase", "source", "domain", "num_sequences", "num_tokens", "epochs"]
        return pl.DataFrame(rows, schema=schema, orient="row")

    def check_vocab(self, vocab_size: int) -> None:
        """Raise ValueError if any token id is >= ``vocab_size`` (shards from another tokenizer)."""
        for s, shards in self.shards.items():
            if s not in self._max_ids:
                self._max_ids[s] = shards.max_token_id()
            if self._max_ids[s] >= vocab_size:
                raise ValueError(
                    f"{self.tokens_dir / s}: token id {self._max_ids[s]} >= model vocab_size {vocab_size}; "
                    "the shards were made with a larger tokenizer (tokens/tokenizer.json)"
                )

    # ------------------------------------------------------------------ resume
    def _make_fingerprint(self) -> dict:
        digest = hashlib.sha256()
        for ph in self.phases:
            digest.update(f"{ph.index}|{ph.seq_len}|{ph.sources}|".encode())
            digest.update(ph.source_of.tobytes())
        for s, sh in sorted(self.shards.items()):
            digest.update(f"{s}|{sh.num_docs}|{sh.num_tokens}|".encode())
        if self.curriculum != "off":  # (only then: checkpoints from before curricula still resume)
            digest.update(f"curriculum|{self.curriculum}|{self._order_by}|{self._descending}".encode())
        return {
            "plan_and_shards": digest.hexdigest()[:16],
            "seed": self.seed,
            "micro_batch_size": self.micro_batch_size,
            "dp_rank": self.dp_rank,
            "dp_world_size": self.dp_world_size,
        }

    def state_dict(self, *, global_position: int | None = None) -> dict:
        """This rank's position; ``global_position`` (the trainer's: sequences consumed over all
        ranks, when they form a prefix of the plan) lets a resume use another DP layout."""
        state = {"version": STATE_VERSION, "phase": self._phase, "position": self._pos, **self._fingerprint}
        if global_position is not None:
            state["global_position"] = int(global_position)
        return state

    def load_state_dict(self, state: dict) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"loader state version {state.get('version')} != {STATE_VERSION}")
        layout = ("micro_batch_size", "dp_rank", "dp_world_size")
        relayout = any(state.get(k) != self._fingerprint[k] for k in layout)
        if relayout and state.get("global_position") is None:
            raise ValueError(
                f"loader state: saved with dp_world_size {state.get('dp_world_size')}, micro_batch_size "
                f"{state.get('micro_batch_size')}, now {self.dp_world_size}, {self.micro_batch_size}, and it "
                "holds no global position (an older checkpoint, or one taken where ranks had consumed "
                "unequal shares); resume with the layout it was saved with"
            )
        for key, value in self._fingerprint.items():
            if state.get(key) != value and not (relayout and key in layout):
                raise ValueError(
                    f"loader state: {key} was {state.get(key)!r} when saved, now {value!r}; "
                    "resume needs the same plan, shards, seed, micro-batch size and DP layout"
                )
        if relayout:
            self.seek_global(int(state["global_position"]))
            return
        self._phase, self._pos = int(state["phase"]), int(state["position"])
        self._skip_empty()

    def _check_loss_mask(self, loss_mask: dict[str, str]) -> set[str]:
        for source, mode in loss_mask.items():
            if mode not in ("all", "response"):
                raise ValueError(f"data.loss_mask.{source}: must be 'all' or 'response', got {mode!r}")
            if source not in self.shards:
                raise ValueError(
                    f"data.loss_mask.{source}: not a source of the plan (sources {sorted(self.shards)})"
                )
            if mode == "response" and not self.shards[source].has_mask:
                raise ValueError(
                    f"data.loss_mask.{source}: 'response' needs a loss mask, but {self.tokens_dir / source} has no "
                    "*.ds.mask; tokenize it from prompt/response or messages records"
                )
        return {s for s, mode in loss_mask.items() if mode == "response"}

    def position_mode(self, phase: int) -> str:
        """'document' (position ids restart at each document) or 'sequence' (0..seq_len-1)."""
        mode = self._positions if isinstance(self._positions, str) else self._positions.get(phase, "document")
        if mode not in ("document", "sequence"):
            raise ValueError(f"position_ids: must be 'document' or 'sequence', got {mode!r}")
        return mode

    # ------------------------------------------------------------------ global position
    def _count_mine(self, end: int) -> int:
        """How many global sequence indices i < end belong to this rank (i % world == rank)."""
        return max(0, -(-(end - self.dp_rank) // self.dp_world_size))

    def consumed_local(self) -> int:
        """Sequences this rank has yielded so far (all phases)."""
        return int(sum(self._local[: self._phase])) + (self._pos if self._phase < len(self.phases) else 0)

    def is_global_prefix(self, global_position: int) -> bool:
        """Whether this rank consumed exactly its share of global sequences [0, global_position)."""
        return self.consumed_local() == self._count_mine(global_position)

    def seek_global(self, global_position: int) -> None:
        """Continue right after global sequence ``global_position - 1`` (any DP layout): the next
        sequences are exactly those not consumed yet, split over this layout's ranks."""
        if not 0 <= global_position <= self.num_sequences_total:
            raise ValueError(
                f"loader state: global position {global_position} outside the plan's "
                f"{self.num_sequences_total} sequences"
            )
        self._phase, self._pos = len(self.phases), 0
        for p, start in enumerate(self._phase_start):
            if global_position < start + self.phases[p].size:
                self._phase = p
                self._pos = self._count_mine(global_position) - self._count_mine(int(start))
                break
        self._skip_empty()

    # ------------------------------------------------------------------ iteration
    def _skip_empty(self) -> None:
        while self._phase < len(self.phases) and self._pos >= self._local[self._phase]:
            self._phase, self._pos = self._phase + 1, 0

    def __iter__(self) -> Iterator[Batch]:
        while self._phase < len(self.phases):
            batch = self._make_batch(self._phase, self._pos)
            self._pos += len(batch.sources)
            self._skip_empty()
            yield batch

    def _make_batch(self, p: int, pos: int) -> Batch:
        ph = self.phases[p]
        n = min(self.micro_batch_size, self._local[p] - pos)
        idx = self._first[p] + (pos + np.arange(n)) * self.dp_world_size
        ids = np.empty((n, ph.seq_len), dtype=np.int64)
        positions = np.empty((n, ph.seq_len), dtype=np.int64)
        trained = np.ones((n, ph.seq_len), dtype=np.uint8) if self._masked else None
        sources, domains = [], []
        for row, i in enumerate(idx):
            k = int(ph.source_of[i])
            source = ph.sources[k]
            offset = self._base[p][source] + int(ph.nth[i]) * ph.seq_len
            mask = trained[row] if trained is not None and source in self._masked else None
            self._fill(source, offset, ids[row], positions[row], mask)
            sources.append(source)
            domains.append(ph.domains[k])
        labels = np.where(positions == 0, -100, ids)
        if trained is not None:  # loss_mask: response: prompt tokens are inputs, never targets
            labels = np.where(trained == 1, labels, -100)
        if self.position_mode(ph.index) == "sequence":  # same trained tokens; positions run across docs
            positions[:] = np.arange(ph.seq_len)
        return Batch(
            input_ids=torch.from_numpy(ids),
            labels=torch.from_numpy(labels),
            position_ids=torch.from_numpy(positions),
            sources=sources,
            domains=domains,
            phase=ph.index,
        )

    def _layout(self, source: str, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        cache = self._epoch_cache[source]
        if epoch not in cache:
            if len(cache) >= 2:  # a sequence spans at most two epochs
                cache.pop(min(cache))
            shards = self.shards[source]
            perm, cum = shards.epoch_layout(self.seed, epoch, self._source_key[source])
            if self._order_by in shards.doc_keys:
                # Each phase draws a window of the stream: sort the documents inside each window, so
                # a phase sees a random sample of the source, easiest first (not the easiest docs only).
                total = shards.num_tokens
                for lo, hi in self._windows[source]:
                    a, b = max(lo - epoch * total, 0), min(hi - epoch * total, total)
                    if a < b:
                        shards.sort_span(perm, cum, a, b, key=self._order_by, descending=self._descending)
            cache[epoch] = (perm, cum)
        return cache[epoch]

    def _fill(
        self, source: str, offset: int, ids: np.ndarray, positions: np.ndarray, mask: np.ndarray | None = None
    ) -> None:
        """Write stream tokens ``[offset, offset + len(ids))`` of ``source``, their positions and
        (when ``mask`` is given) their loss mask."""
        shards = self.shards[source]
        total, out = shards.num_tokens, 0
        while out < len(ids):
            epoch, a = divmod(offset + out, total)
            b = min(a + len(ids) - out, total)
            perm, cum = self._layout(source, epoch)
            d0 = int(np.searchsorted(cum, a, side="right"))
            d1 = int(np.searchsorted(cum, b - 1, side="right"))
            docs = perm[d0 : d1 + 1]
            doc_starts = cum[d0 : d1 + 1] - shards.doc_len[docs]
            lo = np.maximum(a - doc_starts, 0)
            hi = np.minimum(b - doc_starts, shards.doc_len[docs])
            pieces = [shards.read(int(d), int(x), int(y)) for d, x, y in zip(docs, lo, hi, strict=True)]
            ids[out : out + b - a] = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
            positions[out : out + b - a] = np.arange(a, b) - np.repeat(doc_starts, hi - lo)
            if mask is not None:
                parts = [
                    shards.read_mask(int(d), int(x), int(y)) for d, x, y in zip(docs, lo, hi, strict=True)
                ]
                mask[out : out + b - a] = np.concatenate(parts)
            out += b - a
