"""Dedup: one identity per article, at three levels of looseness.

1. `crawler.text.urls.canonical_url`: the URL an article is known by (the page's declared
   canonical when it stays on the same site; cleaned of fragments and tracking parameters).
2. `content_hash`: sha1 of the normalised text, so a repost in the other script or with other
   whitespace and punctuation is an exact copy.
3. `NearDupIndex`: MinHash signatures over character shingles of the normalised text, found by
   datasketch's `MinHashLSH` and verified on the whole signature (`MinHash.jaccard`).

Signatures are computed here with numpy (`shingle_hashes`, `minhash_values`): 1.2 ms for 10,000
shingles where `MinHash.update_batch` takes 7.7 ms on the same hashes.  The values are exactly
datasketch's (affine32 scheme, seed 1; a test checks), so stored signatures stay valid.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from crawler.text.normalise import normalise_for_hash

# --------------------------------------------------------------------------- exact copies


def content_hash(text: str) -> str:
    """sha1 of the text folded to Simplified/lower case without pinyin, spaces or punctuation."""
    return hashlib.sha1(normalise_for_hash(text).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- near duplicates

SEED = 1  # fixed: signatures are stored and compared across processes
SCHEME = "affine32"
_FORMAT = 1  # bump when shingling or hashing changes: stored signatures become stale
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
    norm = normalise_for_hash(text)
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


class NearDupIndex:
    """Articles' MinHash signatures in a datasketch `MinHashLSH` (in-memory storage).

    `query` returns the indexed articles whose estimated Jaccard similarity with a signature
    is at least `threshold`, most similar first: the LSH gives candidates (some band
    identical), each is then verified on the whole signature, so the band choice only trades
    recall near the threshold against a few extra comparisons.
    """

    def __init__(self, threshold: float = 0.5, num_perm: int = 128, shingle_size: int = 5):
        self.threshold, self.num_perm, self.shingle_size = threshold, num_perm, shingle_size
        lsh_threshold = min(threshold, _LSH_MAX_THRESHOLD)
        self.lsh = MinHashLSH(threshold=lsh_threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
        self._sigs: dict[int, Signature] = {}  # for verification: the LSH keeps only band keys
        self.stale: list[int] = []  # ids whose stored signature was made under other settings

    def signature(self, text: str) -> Signature:
        """MinHash of the text's shingles; deterministic across processes and machines."""
        values = minhash_values(shingle_hashes(text, self.shingle_size), self.num_perm)
        return Signature.of(values, self.shingle_size)

    def _fits(self, sig: MinHash) -> bool:
        """Whether a signature was made with this index's settings and can be compared."""
        return (len(sig) == self.num_perm and sig.seed == SEED and getattr(sig, "scheme", None) == SCHEME
                and getattr(sig, "shingle_size", self.shingle_size) == self.shingle_size)

    def _check(self, sig: MinHash) -> None:
        if not self._fits(sig):
            raise ValueError(f"signature does not fit this index (num_perm {self.num_perm}, seed {SEED}, "
                             f"{SCHEME}, shingle size {self.shingle_size})")

    def add(self, article_id: int, sig: MinHash) -> None:
        """Index a signature (replacing the article's previous one).  A signature of an empty
        text is not indexed: it would be 'identical' to every other empty text."""
        self._check(sig)
        self.remove(article_id)
        if (sig.hashvalues == _EMPTY).all():
            return
        article_id = int(article_id)
        self.lsh.insert(article_id, sig)
        self._sigs[article_id] = sig if isinstance(sig, Signature) else Signature.of(sig.hashvalues, self.shingle_size)

    def remove(self, article_id: int) -> None:
        """Forget an article; unknown ids are ignored."""
        if self._sigs.pop(int(article_id), None) is not None:
            self.lsh.remove(int(article_id))

    def query(self, sig: MinHash) -> list[int]:
        """Ids of indexed articles with estimated Jaccard >= threshold, most similar first."""
        return [article_id for article_id, _ in self.similar(sig)]

    def similar(self, sig: MinHash) -> list[tuple[int, float]]:
        """(id, estimated Jaccard) pairs behind `query`; ties: the older (smaller) id first."""
        self._check(sig)
        if not self._sigs or (sig.hashvalues == _EMPTY).all():
            return []
        pairs = [(i, self._sigs[i].jaccard(sig)) for i in self.lsh.query(sig)]
        return sorted((p for p in pairs if p[1] >= self.threshold - 1e-9), key=lambda p: (-p[1], p[0]))

    def __len__(self) -> int:
        return len(self._sigs)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._sigs

    @classmethod
    def from_signatures(cls, rows: Iterable[tuple[int, bytes]], threshold: float = 0.5,
                        num_perm: int = 128, shingle_size: int = 5) -> NearDupIndex:
        """Rebuild from stored `(article_id, sig_to_bytes(...))` rows (a repeated id: the last
        row wins).  Rows made under other settings (num_perm, shingle size, format) are not
        indexed; their ids go to `.stale` so the caller can recompute them from the text."""
        index = cls(threshold, num_perm, shingle_size)
        for article_id, blob in rows:
            try:
                sig = sig_from_bytes(blob)
            except ValueError:
                sig = None
            if sig is not None and index._fits(sig):
                index.add(article_id, sig)
            else:
                index.stale.append(article_id)
        return index
