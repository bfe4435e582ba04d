"""Dedup: one identity per article, at three levels of looseness.

1. `crawler.text.urls.canonical_url`: the URL an article is known by (the page's declared
   canonical when it stays on the same site; cleaned of fragments and tracking parameters).
2. `content_hash`: sha1 of the normalised text, so a repost in the other script or with other
   whitespace and punctuation is an exact copy.
3. `NearDup`: MinHash signatures over character shingles of the normalised text, cut into
   LSH bands (as many bands and rows as datasketch's `MinHashLSH` picks for the threshold),
   each band hashed to one 64-bit key.  The keys are kept in the corpus (crawler/store/lsh.py
   looks them up: no index in memory); articles sharing a key with a new one are its
   candidates, each verified on the whole signature (`MinHash.jaccard`).

A crawl's worker process computes a kept text's content hash and signature together
(`NearDup.dedup_keys`, the text normalised once) and they travel with the item; ingest takes
them when they were made in this format with its settings (`NearDup.known`).

Signatures are computed here with numpy (`shingle_hashes`, `minhash_values`): 1.2 ms for 10,000
shingles where `MinHash.update_batch` takes 7.7 ms on the same hashes.  The values are exactly
datasketch's (affine32 scheme, seed 1; a test checks), so stored signatures stay valid.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import struct
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from crawler.records import DedupKeys
from crawler.text.normalise import HASH_ENVIRONMENT, normalise_for_hash


def _import_datasketch() -> types.ModuleType:
    """datasketch, imported without scipy.integrate and without the Redis client.

    datasketch's `lsh` and `lsh_bloom` modules take `quad` from scipy.integrate when imported,
    to integrate MinHashLSH's false positive and negative odds as it picks bands and rows.
    Importing scipy.integrate (ODE and boundary-value solvers, sparse linear algebra) costs
    0.8-1.6 s of CPU: a fifth of what a short crawl spends besides extracting, for a choice
    that KNOWN_SHAPES already holds for the usual settings.  So for the length of datasketch's
    import, `scipy.integrate` is a stand-in whose `quad` imports the real one when first
    called (MinHashLSH for a threshold outside KNOWN_SHAPES).  The one place topicwatch reaches
    into datasketch's imports: should datasketch want anything else of scipy.integrate, the
    stand-in is dropped and datasketch imported as usual.

    datasketch's storage modules also import `redis` (and `redis.asyncio`) when it is installed,
    for LSH indexes kept in Redis, and take its absence as `redis = None`.  topicwatch keeps its
    LSH keys in SQLite, and its own Redis code imports the client itself; in a crawl that runs
    without Redis those imports cost 0.2-0.3 s of CPU for nothing.  So, unless the client is
    imported already, `redis` is marked missing for the length of datasketch's import only.

    tests/test_dedup.py checks, in a new process, that neither scipy.integrate nor redis is
    imported, that `import redis` works afterwards, and that MinHashLSH still works."""
    if "datasketch" in sys.modules or "scipy.integrate" in sys.modules:
        return importlib.import_module("datasketch")
    stand_in = types.ModuleType("scipy.integrate")

    def quad(*args: Any, **kwargs: Any) -> Any:
        from scipy.integrate import quad as real  # the stand-in has left sys.modules by now

        return real(*args, **kwargs)

    stand_in.quad = quad  # type: ignore[attr-defined]
    sys.modules["scipy.integrate"] = stand_in
    no_redis = "redis" not in sys.modules
    if no_redis:
        sys.modules["redis"] = None  # type: ignore[assignment]  # `import redis` raises ImportError
    try:
        return importlib.import_module("datasketch")
    except ImportError:  # datasketch needs more of scipy.integrate, or redis: import it as usual
        for name in [m for m in sys.modules if m.split(".")[0] == "datasketch"]:
            del sys.modules[name]
        del sys.modules["scipy.integrate"]
        if no_redis and sys.modules.get("redis", 0) is None:
            del sys.modules["redis"]
        return importlib.import_module("datasketch")
    finally:
        if sys.modules.get("scipy.integrate") is stand_in:
            del sys.modules["scipy.integrate"]
        if no_redis and sys.modules.get("redis", 0) is None:
            del sys.modules["redis"]


_datasketch = _import_datasketch()
LeanMinHash, MinHash, MinHashLSH = _datasketch.LeanMinHash, _datasketch.MinHash, _datasketch.MinHashLSH

# --------------------------------------------------------------------------- exact copies


def content_hash(text: str) -> str:
    """sha1 of the text folded to Simplified/lower case without pinyin, spaces or punctuation."""
    return _hash_of(normalise_for_hash(text))


_SHA1_HEX = re.compile("[0-9a-f]{40}")


def _hash_of(norm: str) -> str:
    return hashlib.sha1(norm.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- near duplicates

SEED = 1  # fixed: signatures are stored and compared across processes
SCHEME = "affine32"
# bump when shingling or hashing changes (normalise_for_hash included): stored signatures
# become stale, and so do the DedupKeys of spooled items, which carry it (`NearDup.dedup_keys`)
_FORMAT = 1
_MAGIC = b"TW"
_HEADER = 4 + 8 + 4 + 1  # magic, format, shingle size; then LeanMinHash "<qiB" header
_EMPTY = np.uint32(0xFFFFFFFF)  # every value of the signature of a text without shingles

# MinHashLSH picks bands and rows minimising weighted false positive and false negative odds.
# A candidate costs one comparison of two small arrays (it is verified on the whole signature),
# a false negative is a missed duplicate: weigh misses more.  At 0.5 and 128 permutations
# this gives 32 bands of 4 rows instead of 25 of 5 (odds that a pair at J=0.6 is a candidate:
# 0.99 instead of 0.87).
LSH_WEIGHTS = (0.1, 0.9)
# Above this MinHashLSH finds fewer than two bands (it refuses 1.0 outright); a lower LSH
# threshold only means more candidates, and those are verified against the real one.
_LSH_MAX_THRESHOLD = 0.95


class Signature(LeanMinHash):
    """A LeanMinHash that remembers the shingle size it was built with, so a stored signature
    made under other settings is noticed instead of silently never matching."""

    __slots__ = ("shingle_size",)

    @classmethod
    def of(cls, hashvalues: np.ndarray, shingle_size: int) -> Signature:
        sig = cls(seed=SEED, hashvalues=hashvalues, scheme=SCHEME)  # copies the values
        sig.shingle_size = shingle_size
        return sig


def sig_to_bytes(sig: Signature) -> bytes:
    """Portable (little-endian) bytes for the `minhashes.signature` column."""
    lean = LeanMinHash(seed=sig.seed, hashvalues=sig.hashvalues, scheme=sig.scheme)
    buf = bytearray(lean.bytesize("<"))
    lean.serialize(buf, "<")
    return _MAGIC + bytes([_FORMAT, sig.shingle_size]) + bytes(buf)


def sig_from_bytes(blob: bytes) -> Signature:
    """Inverse of `sig_to_bytes`; ValueError for bytes not written by it."""
    if len(blob) < _HEADER or blob[:3] != _MAGIC + bytes([_FORMAT]):
        raise ValueError("not a topicwatch signature (or written by another version)")
    try:
        lean = LeanMinHash.deserialize(blob[4:], "<")
    except struct.error as err:
        raise ValueError(f"truncated signature: {err}") from err
    return Signature.of(lean.hashvalues, blob[3])


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> np.ndarray:
    return MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME).permutations


_ROLL = np.uint64(0x100000001B3)
_MIX1, _MIX2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)


def shingle_hashes(text: str, size: int) -> np.ndarray:
    """Distinct 32-bit hashes of the overlapping `size`-character shingles of the normalised
    text (script folded, pinyin, spaces and punctuation dropped).  Chinese needs no word
    segmentation this way; a text shorter than `size` is one shingle; an empty one has none."""
    return _shingles(normalise_for_hash(text), size)


def _shingles(norm: str, size: int) -> np.ndarray:
    if not norm:
        return np.empty(0, dtype=np.uint32)
    codes = np.frombuffer(norm.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    k = min(size, len(codes))
    n = len(codes) - k + 1
    h = np.zeros(n, dtype=np.uint64)
    for j in range(k):  # polynomial rolling hash over k code points, wrapping mod 2^64
        h = h * _ROLL + codes[j : j + n]
    h ^= h >> np.uint64(33)
    h *= _MIX1
    h ^= h >> np.uint64(33)
    h *= _MIX2
    h ^= h >> np.uint64(33)
    return np.unique(h.astype(np.uint32))


def minhash_values(hashes: np.ndarray, num_perm: int, chunk: int = 1024) -> np.ndarray:
    """What `MinHash.update_batch` computes for the affine32 scheme (MurmurHash3 finalizer,
    then a*h+b mod 2^32, column minimum), vectorised in chunks whose temporaries stay in the
    CPU cache (1,024 x 128 values: 1 ms per 10,000 shingles; 4,096 is five times slower);
    tests check it equals datasketch's own result."""
    a, b = _permutations(num_perm)
    out = np.full(num_perm, _EMPTY, dtype=np.uint32)
    for start in range(0, len(hashes), chunk):
        h = hashes[start : start + chunk].astype(np.uint32).reshape(-1, 1)
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
        np.minimum(out, (h * a + b).min(axis=0), out=out)
    return out


# (bands, rows) that MinHashLSH picks with LSH_WEIGHTS, by (threshold, num_perm), for the default
# settings and round thresholds: no scipy.integrate to import for them (_import_datasketch).
# tests/test_dedup.py checks every entry against MinHashLSH's own choice.
KNOWN_SHAPES = {
    (0.3, 64): (32, 2), (0.3, 128): (32, 2), (0.3, 256): (85, 3),
    (0.4, 64): (17, 2), (0.4, 128): (42, 3), (0.4, 256): (64, 4),
    (0.5, 64): (21, 3), (0.5, 128): (32, 4), (0.5, 256): (42, 4),
    (0.6, 64): (16, 4), (0.6, 128): (25, 5), (0.6, 256): (42, 6),
    (0.7, 64): (12, 5), (0.7, 128): (20, 6), (0.7, 256): (32, 8),
    (0.8, 64): (9, 7), (0.8, 128): (14, 9), (0.8, 256): (23, 11),
    (0.9, 64): (5, 12), (0.9, 128): (8, 16), (0.9, 256): (13, 19),
    (0.95, 64): (3, 19), (0.95, 128): (5, 25), (0.95, 256): (8, 32),
}


@lru_cache(maxsize=16)
def lsh_shape(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) that datasketch's `MinHashLSH` picks for this threshold with
    `LSH_WEIGHTS`: from KNOWN_SHAPES, else read from its public `b` and `r` (an in-memory
    instance, built once)."""
    threshold = min(threshold, _LSH_MAX_THRESHOLD)
    if (threshold, num_perm) in KNOWN_SHAPES:
        return KNOWN_SHAPES[threshold, num_perm]
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
    return lsh.b, lsh.r


_OFFSET = np.uint64(0xCBF29CE484222325)
_BAND_KEYS = 1  # bump when `band_keys` changes: stored keys are rebuilt (see NearDup.shape)


def band_keys(values: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One signed 64-bit key per band of each signature: `values` is (n, num_perm) uint32
    (or one signature), the result (n, bands) int64.  Each band's `rows` values are folded in
    with a multiply and the MurmurHash3 finaliser, so two bands share a key only when they are
    equal or, once in 2^64, by chance (a chance candidate is then refused on verification)."""
    v = np.atleast_2d(np.asarray(values, dtype=np.uint32))
    v = v[:, : bands * rows].reshape(len(v), bands, rows).astype(np.uint64)
    h = np.full(v.shape[:2], _OFFSET, dtype=np.uint64)
    for j in range(rows):
        h ^= v[:, :, j]
        h *= _ROLL
        h ^= h >> np.uint64(33)
        h *= _MIX1
        h ^= h >> np.uint64(33)
    h *= _MIX2
    h ^= h >> np.uint64(33)
    return h.view(np.int64)


def is_empty(sig: MinHash) -> bool:
    """The signature of a text without shingles: 'identical' to every other such text, so it
    has no bands and is never a candidate."""
    return bool((sig.hashvalues == _EMPTY).all())


@dataclass(frozen=True)
class NearDup:
    """Near-duplicate settings and everything computed from them (no state, no storage).

    `signature` turns a text into a MinHash; `keys` cuts it into (band, key) pairs for the
    corpus's `lsh_bands` table; `verify` keeps, among the candidates the store found by those
    keys, the ones whose estimated Jaccard similarity is at least `threshold`, most similar
    first.  `shape` names the banding, so stored keys made under another one are noticed."""

    threshold: float = 0.5
    num_perm: int = 128
    shingle_size: int = 5
    bands: int = field(init=False)
    rows: int = field(init=False)

    def __post_init__(self) -> None:
        b, r = lsh_shape(self.threshold, self.num_perm)
        object.__setattr__(self, "bands", b)
        object.__setattr__(self, "rows", r)

    @property
    def shape(self) -> str:
        return (f"format {_FORMAT}, {self.num_perm} perm, shingle {self.shingle_size}, "
                f"{self.bands}x{self.rows}, keys {_BAND_KEYS}")

    def signature(self, text: str) -> Signature:
        """MinHash of the text's shingles; deterministic across processes and machines."""
        return self._signature(normalise_for_hash(text))

    def _signature(self, norm: str) -> Signature:
        values = minhash_values(_shingles(norm, self.shingle_size), self.num_perm)
        return Signature.of(values, self.shingle_size)

    def dedup_keys(self, text: str) -> DedupKeys:
        """The text's content hash and signature, normalised once: what a crawl's worker
        process computes for ingest (`known`)."""
        norm = normalise_for_hash(text)
        return DedupKeys(_hash_of(norm), sig_to_bytes(self._signature(norm)), HASH_ENVIRONMENT)

    def known(self, keys: DedupKeys | None) -> tuple[str, Signature] | None:
        """The content hash and signature DedupKeys hold, when they were made in this format,
        with these settings, from text normalised as here (the same Unicode and OpenCC
        versions); None otherwise (another version, other settings or another environment
        made them: the caller computes them itself)."""
        if keys is None or keys.made_with != HASH_ENVIRONMENT:
            return None
        try:
            sig = sig_from_bytes(keys.signature)
        except ValueError:
            return None
        if not self.fits(sig) or not _SHA1_HEX.fullmatch(keys.content_hash):
            return None
        return keys.content_hash, sig

    def fits(self, sig: MinHash) -> bool:
        """Whether a signature was made with these settings and can be compared."""
        return (len(sig) == self.num_perm and sig.seed == SEED and getattr(sig, "scheme", None) == SCHEME
                and getattr(sig, "shingle_size", self.shingle_size) == self.shingle_size)

    def check(self, sig: MinHash) -> None:
        if not self.fits(sig):
            raise ValueError(f"signature does not fit these settings (num_perm {self.num_perm}, seed {SEED}, "
                             f"{SCHEME}, shingle size {self.shingle_size})")

    def keys(self, sig: MinHash) -> list[tuple[int, int]]:
        """(band, key) pairs of a signature; none for the signature of an empty text."""
        self.check(sig)
        if is_empty(sig):
            return []
        return list(enumerate(band_keys(sig.hashvalues, self.bands, self.rows)[0].tolist()))

    def stored_keys(self, rows: Iterable[tuple[int, bytes]]) -> Iterable[tuple[int, int, int]]:
        """(band, key, article_id) of stored `(article_id, signature bytes)` rows, computed a
        chunk at a time; rows made under other settings or empty texts give none."""
        ids: list[int] = []
        values: list[np.ndarray] = []
        for article_id, blob in rows:
            try:
                sig = sig_from_bytes(blob)
            except ValueError:
                continue
            if self.fits(sig) and not is_empty(sig):
                ids.append(int(article_id))
                values.append(sig.hashvalues)
            if len(ids) == 4096:
                yield from self._keys_of(ids, values)
                ids, values = [], []
        if ids:
            yield from self._keys_of(ids, values)

    def _keys_of(self, ids: list[int], values: list[np.ndarray]) -> Iterable[tuple[int, int, int]]:
        keys = band_keys(np.stack(values), self.bands, self.rows)
        for article_id, row in zip(ids, keys.tolist(), strict=True):
            for band, key in enumerate(row):
                yield band, key, article_id

    def similarity(self, sig: MinHash, blob: bytes) -> float | None:
        """Estimated Jaccard of `sig` and a stored signature; None when they cannot be
        compared (another shape, unreadable, an empty text)."""
        try:
            other = sig_from_bytes(blob)
        except ValueError:
            return None
        if is_empty(sig) or not self.fits(other):
            return None
        return float(other.jaccard(sig))

    def verify(self, sig: MinHash, candidates: Iterable[tuple[int, bytes]]) -> list[tuple[int, float]]:
        """(id, estimated Jaccard) of the candidates (stored `(article_id, signature bytes)`)
        at least `threshold` alike; the most similar first, ties: the older (smaller) id."""
        self.check(sig)
        if is_empty(sig):
            return []
        pairs = []
        for article_id, blob in candidates:
            try:
                other = sig_from_bytes(blob)
            except ValueError:
                continue
            if self.fits(other):
                j = float(other.jaccard(sig))
                if j >= self.threshold - 1e-9:
                    pairs.append((int(article_id), j))
        return sorted(pairs, key=lambda p: (-p[1], p[0]))
