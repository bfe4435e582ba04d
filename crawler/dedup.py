"""Dedup: one identity per article, at three levels of looseness.

1. `canonical_url`: the URL an article is known by (the page's declared canonical when it stays
   on the same site, cleaned of fragments and tracking parameters).
2. `content_hash`: sha1 of the normalised text, so a repost in the other script or with other
   whitespace and punctuation is an exact copy.
3. `NearDupIndex`: MinHash signatures (datasketch) over character shingles of the normalised
   text, and an LSH band index to find the stories a new article belongs to.

Why the band index is our own and not `datasketch.MinHashLSH`: datasketch keeps a Python set
per band bucket, which measured about 6 KB per document (1.2 GB for 200,000 articles) and 60 µs
per insert.  Here the bands of all documents live in one sorted numpy array (12 bytes per band
per document) searched with `searchsorted`, plus a small dict of recent inserts merged in
batches.  Signatures (LeanMinHash, the affine32 permutations) still come from datasketch.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import struct
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import numpy as np
from courlan import normalize_url
from datasketch import LeanMinHash, MinHash
from tld import get_fld

from crawler.textnorm import normalise_for_hash

# --------------------------------------------------------------------------- canonical URLs

# Query parameters that say how a reader arrived, never which article it is.  An explicit list
# rather than courlan's tracker regex: that one also drops `cid`, `eid`, `uid`, `ga*`, `gl*`,
# `aff*` and `ref*`, and `show.php?cid=123` is an article id on many Chinese CMS sites.
_TRACKER_PREFIXES = ("utm_", "mtm_", "pk_", "mc_", "itm_", "hmsr", "hmpl", "hmcu", "hmkw",
                     "hmci", "_hs", "at_", "ns_", "vero_", "oly_")
_TRACKERS = frozenset("""
    fbclid gclid dclid gbraid wbraid msclkid yclid twclid ttclid igshid igsh _ga _gl
    spm scm from share share_from share_source share_token shareid isappinstalled wfr
    tt_from tt_medium ref ref_src ref_url referrer referer source src_type rss feature
    ncid ocid cmpid xtor ito smid sr_share bd_vid wt_mc wt.mc_id chksm scene sessionid
""".split())


def canonical_url(url: str, declared: str | None = None) -> str:
    """The identity of an article URL: `declared` (rel=canonical / og:url) when it is an
    absolute http(s) URL on the same site and not the site's home page, else `url`; then
    cleaned (see `clean_url`)."""
    return clean_url(declared if _trust_declared(url, declared) else url)


def _trust_declared(url: str, declared: str | None) -> bool:
    """Sites declare canonicals that point elsewhere (syndication partners) or at their home
    page (a template bug that would make every article one); trust neither."""
    if not declared:
        return False
    d, u = urlsplit(declared.strip()), urlsplit(url.strip())
    if d.scheme.lower() not in ("http", "https") or not d.hostname:
        return False
    if d.path in ("", "/") and not d.query and u.path not in ("", "/"):
        return False
    return _site(d) == _site(u)


def _site(parts) -> str:
    """Registered domain (news.qq.com -> qq.com); host:port for IP addresses and single-label
    hosts like localhost, where every port is its own site."""
    host = (parts.hostname or "").lower()
    try:
        ipaddress.ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    if not is_ip and "." in host:
        fld = get_fld(f"http://{host}", fail_silently=True)
        if fld:
            return fld
    return f"{host}:{_port(parts)}"


def _port(parts) -> int | None:
    try:
        port = parts.port
    except ValueError:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return None if port == default else port


def clean_url(url: str) -> str:
    """Lowercase scheme and host, no default port, no fragment (except `#!` routes), no
    tracking parameters, remaining parameters sorted, path case kept, an empty path is "/"."""
    parts = urlsplit(url.strip())
    fragment = parts.fragment if parts.fragment.startswith("!") else ""
    base = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))
    try:
        base = normalize_url(base)  # courlan: case, default port, // and /../ in paths, quoting
    except (ValueError, AttributeError):
        base = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))
    b = urlsplit(base)
    path = _upper_escapes(b.path or "/")
    return urlunsplit((b.scheme, b.netloc, path, _clean_query(parts.query), fragment))


def _clean_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = sorted((k, v) for k, v in pairs if not _is_tracker(k))
    return urlencode(kept, quote_via=quote)


def _is_tracker(name: str) -> bool:
    n = name.lower()
    return n in _TRACKERS or n.startswith(_TRACKER_PREFIXES)


_ESCAPE_RE = re.compile(r"%[0-9a-fA-F]{2}")


def _upper_escapes(path: str) -> str:
    return _ESCAPE_RE.sub(lambda m: m.group(0).upper(), path)


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


class Signature(LeanMinHash):
    """A LeanMinHash that remembers the shingle size it was built with, so a stored signature
    made under other settings is noticed instead of silently never matching."""

    __slots__ = ("shingle_size",)

    @classmethod
    def of(cls, hashvalues: np.ndarray, shingle_size: int) -> Signature:
        sig = object.__new__(cls)
        sig._initialize_slots(SEED, hashvalues, SCHEME)
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
    lean = LeanMinHash.deserialize(blob[4:], "<")
    return Signature.of(lean.hashvalues, blob[3])


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> np.ndarray:
    return MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME).permutations


def _bands(threshold: float, num_perm: int, recall: float = 0.98) -> tuple[int, int]:
    """(bands, rows per band): the most rows per band (fewest chance candidates) that still
    makes a pair right at the threshold a candidate with probability >= `recall`.  Every
    candidate is verified on the whole signature afterwards, so a false positive costs one
    comparison of two small arrays while a false negative is a missed duplicate.  For 0.6
    and 128 permutations: 32 bands of 4 rows (candidate odds 0.99 at J=0.6, 0.05 at 0.2)."""
    threshold = min(max(threshold, 0.01), 0.99)
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


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
    out = np.full(num_perm, np.uint32(0xFFFFFFFF), dtype=np.uint32)
    for start in range(0, len(hashes), chunk):
        h = hashes[start : start + chunk].astype(np.uint32).reshape(-1, 1)
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
        np.minimum(out, (h * a + b).min(axis=0), out=out)
    return out


_EMPTY = np.uint32(0xFFFFFFFF)


class NearDupIndex:
    """Articles' MinHash signatures and an LSH band index over them.

    `query` returns the indexed articles whose estimated Jaccard similarity with a signature
    is at least `threshold`, most similar first.  Candidates come from the bands (any band
    identical), then each is verified on the full signature, so the band choice only trades
    recall near the threshold against a few extra comparisons.
    """

    MERGE_EVERY = 4096  # recent inserts kept in a dict before they join the sorted arrays

    def __init__(self, threshold: float = 0.6, num_perm: int = 128, shingle_size: int = 5):
        self.threshold, self.num_perm, self.shingle_size = threshold, num_perm, shingle_size
        self.bands, self.rows = _bands(threshold, num_perm)
        odd = np.random.default_rng(SEED).integers(0, 1 << 63, (self.bands, self.rows), dtype=np.uint64)
        self._mult = odd * np.uint64(2) + np.uint64(1)  # random odd multipliers for band keys
        self._sigs = np.empty((0, num_perm), dtype=np.uint32)
        self._ids = np.empty(0, dtype=np.int64)
        self._alive = np.empty(0, dtype=bool)
        self._used = 0  # slots filled in the three arrays above
        self._slot_of: dict[int, int] = {}
        self._keys = np.empty(0, dtype=np.uint64)  # sorted band keys of merged slots
        self._slots = np.empty(0, dtype=np.int32)  # the slot of each key
        self._recent: dict[int, list[int]] = {}  # band key -> slots added since the last merge
        self._n_recent = 0
        self._merged_upto = 0  # slots below this are in _keys/_slots
        self.stale: list[int] = []  # ids whose stored signature was made under other settings

    # -- signatures -------------------------------------------------------------------------

    def signature(self, text: str) -> Signature:
        """MinHash of the text's shingles; deterministic across processes and machines."""
        values = minhash_values(shingle_hashes(text, self.shingle_size), self.num_perm)
        return Signature.of(values, self.shingle_size)

    def _values(self, sig: MinHash) -> np.ndarray:
        if len(sig) != self.num_perm or sig.seed != SEED or getattr(sig, "scheme", None) != SCHEME:
            raise ValueError(f"signature does not fit this index (num_perm {self.num_perm}, seed {SEED}, {SCHEME})")
        if getattr(sig, "shingle_size", self.shingle_size) != self.shingle_size:
            raise ValueError(f"signature made with shingle size {sig.shingle_size}, index uses {self.shingle_size}")
        return np.asarray(sig.hashvalues, dtype=np.uint32)

    # -- the index --------------------------------------------------------------------------

    def add(self, article_id: int, sig: MinHash) -> None:
        """Index a signature (replacing the article's previous one).  A signature of an empty
        text is not indexed: it would be 'identical' to every other empty text."""
        values = self._values(sig)
        self.remove(article_id)
        if (values == _EMPTY).all():
            return
        slot = self._store(np.array([article_id]), values[None, :])[0]
        for key in self._band_keys(values[None, :])[0].tolist():
            self._recent.setdefault(key, []).append(slot)
        self._n_recent += 1
        if self._n_recent >= self.MERGE_EVERY:
            self._merge()

    def remove(self, article_id: int) -> None:
        """Forget an article (its band entries are dropped at the next merge)."""
        slot = self._slot_of.pop(int(article_id), None)
        if slot is not None:
            self._alive[slot] = False

    def query(self, sig: MinHash) -> list[int]:
        """Ids of indexed articles with estimated Jaccard >= threshold, most similar first."""
        return [article_id for article_id, _ in self.similar(sig)]

    def similar(self, sig: MinHash) -> list[tuple[int, float]]:
        """(id, estimated Jaccard) pairs behind `query`; ties: the older (smaller) id first."""
        values = self._values(sig)
        if (values == _EMPTY).all() or not self._slot_of:
            return []
        slots = self._candidates(values)
        if not len(slots):
            return []
        sims = np.count_nonzero(self._sigs[slots] == values, axis=1) / self.num_perm
        keep = sims >= self.threshold - 1e-9
        pairs = zip(self._ids[slots[keep]].tolist(), sims[keep].tolist(), strict=True)
        return sorted(pairs, key=lambda p: (-p[1], p[0]))

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._slot_of

    @classmethod
    def from_signatures(cls, rows: Iterable[tuple[int, bytes]], threshold: float = 0.6,
                        num_perm: int = 128, shingle_size: int = 5, batch: int = 20_000) -> NearDupIndex:
        """Rebuild from stored `(article_id, sig_to_bytes(...))` rows.  Rows made under other
        settings (num_perm, shingle size, format) are not indexed; their ids go to `.stale`
        so the caller can recompute them from the article text."""
        index = cls(threshold, num_perm, shingle_size)
        header = _MAGIC + bytes([_FORMAT, shingle_size]) + struct.pack("<qiB", SEED, -num_perm, 1)
        size = len(header) + 4 * num_perm
        ids: list[int] = []
        blobs: list[bytes] = []
        for article_id, blob in rows:
            if len(blob) == size and blob[: len(header)] == header:
                ids.append(article_id)
                blobs.append(blob)
            else:
                index.stale.append(article_id)
            if len(ids) >= batch:
                index._add_many(ids, blobs, len(header))
                ids, blobs = [], []
        index._add_many(ids, blobs, len(header))
        index._merge()
        return index

    # -- internals --------------------------------------------------------------------------

    def _add_many(self, ids: list[int], blobs: list[bytes], header: int) -> None:
        if not ids:
            return
        last = list({article_id: i for i, article_id in enumerate(ids)}.values())  # repeated id: last wins
        rec = np.dtype([("h", f"V{header}"), ("v", "<u4", (self.num_perm,))])
        values = np.frombuffer(b"".join(blobs[i] for i in last), dtype=rec)["v"].astype(np.uint32)
        ids_arr = np.asarray(ids, dtype=np.int64)[last]
        for article_id in ids_arr.tolist():
            self.remove(article_id)
        keep = ~(values == _EMPTY).all(axis=1)
        self._store(ids_arr[keep], values[keep])

    def _store(self, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Put signatures in free slots (growing the arrays by half) and return the slots."""
        need = self._used + len(ids)
        if need > len(self._ids):
            cap = max(need, len(self._ids) * 3 // 2, 1024)
            self._sigs = _grow(self._sigs, cap)
            self._ids, self._alive = _grow(self._ids, cap), _grow(self._alive, cap)
        slots = np.arange(self._used, need)
        self._sigs[slots], self._ids[slots], self._alive[slots] = values, ids, True
        self._slot_of.update(zip(ids.tolist(), slots.tolist(), strict=True))
        self._used = need
        return slots

    def _band_keys(self, values: np.ndarray) -> np.ndarray:
        """One 64-bit key per band: a random linear mix of the band's rows (mod 2^64)."""
        used = values[:, : self.bands * self.rows].astype(np.uint64)
        return (used.reshape(len(values), self.bands, self.rows) * self._mult).sum(axis=2, dtype=np.uint64)

    def _candidates(self, values: np.ndarray) -> np.ndarray:
        keys = np.sort(self._band_keys(values[None, :])[0])  # sorted needles: faster searchsorted
        found: list[np.ndarray] = []
        if len(self._keys):
            lo = np.searchsorted(self._keys, keys, "left")
            hit = self._keys[np.minimum(lo, len(self._keys) - 1)] == keys
            if hit.any():  # most bands find nothing: only then look for where their run ends
                hi = np.searchsorted(self._keys, keys[hit], "right")
                found = [self._slots[a:b] for a, b in zip(lo[hit].tolist(), hi.tolist(), strict=True)]
        found += [np.asarray(self._recent[k]) for k in keys.tolist() if k in self._recent]
        if not found:
            return np.empty(0, dtype=np.int64)
        slots = np.unique(np.concatenate(found).astype(np.int64))
        return slots[self._alive[slots]]

    def _merge(self) -> None:
        """Fold the slots added since the last merge into the sorted arrays (slots are handed
        out in order, so they are the ones from `_merged_upto`) and drop removed articles."""
        fresh = np.arange(self._merged_upto, self._used)
        fresh = fresh[self._alive[fresh]]
        keys = np.concatenate([self._band_keys(self._sigs[fresh[i : i + 8192]]).ravel()
                               for i in range(0, len(fresh), 8192)] or [np.empty(0, np.uint64)])
        order = np.argsort(keys)  # sort the new run alone, then let timsort merge two runs
        keys, slots = keys[order], np.repeat(fresh.astype(np.int32), self.bands)[order]
        if len(self._keys):
            live = self._alive[self._slots]
            keys = np.concatenate([self._keys[live], keys])
            slots = np.concatenate([self._slots[live], slots])
            order = np.argsort(keys, kind="stable")
            keys, slots = keys[order], slots[order]
        self._keys, self._slots = keys, slots
        self._recent, self._n_recent, self._merged_upto = {}, 0, self._used


def _grow(arr: np.ndarray, cap: int) -> np.ndarray:
    out = np.empty((cap, *arr.shape[1:]), dtype=arr.dtype)
    out[: len(arr)] = arr
    if arr.dtype == bool:
        out[len(arr) :] = False
    return out
