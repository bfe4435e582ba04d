"""Is a body text at all, and the characters no parser should see.

Servers send PNGs, PDFs and zip files as `text/html`, and real pages carry stray C0 control
characters (Word leftovers, ANSI escapes). lxml refuses strings holding NUL or C0 controls
("All strings must be XML compatible") and trafilatura discards a whole document when one
turns up (FIELD-NOTES), so:

- `looks_binary` judges bytes (before decoding) or decoded text (after it) the same way: a
  file signature at the start, or a share of control and replacement characters that text
  never has. One stray NUL in a long page is not enough; a tenth of the characters is.
- `strip_controls` removes what XML 1.0 forbids (C0 controls but tab, LF and CR; lone
  surrogates; U+FFFE/U+FFFF) before anything is parsed.
"""

from __future__ import annotations

import re

# File signatures of formats servers send under a text type (images, documents, archives,
# media, fonts, executables); checked at the start, after leading whitespace.
_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",  # JPEG
    b"%PDF-",
    b"PK\x03\x04",  # zip, docx, xlsx, epub, jar
    b"\x1f\x8b\x08",  # gzip
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\x28\xb5\x2f\xfd",  # zstd
    b"RIFF",  # webp, wav, avi
    b"OggS",
    b"ID3",  # mp3
    b"fLaC",
    b"\x00\x00\x00\x18ftyp",
    b"\x00\x00\x00\x1cftyp",
    b"\x00\x00\x00\x20ftyp",  # mp4, heic, avif
    b"\x1aE\xdf\xa3",  # webm, mkv
    b"wOFF",
    b"wOF2",
    b"\x00\x01\x00\x00\x00",  # TrueType
    b"OTTO",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",  # old MS Office
    b"\x7fELF",
    b"MZ\x90\x00",
    b"\x00asm",
    b"II*\x00",
    b"MM\x00*",  # TIFF
    b"SQLite format 3\x00",
)
_MAGIC_TEXT = tuple(m.decode("latin-1") for m in _MAGIC)
_SAMPLE = 65536  # characters or bytes judged: plenty, and bounded on huge bodies
_CONTROL_SHARE = 0.05  # text has next to no C0 controls; binary data has about one byte in nine
_JUNK_SHARE = 0.15  # controls and U+FFFD together: what decoding random bytes leaves behind

_C0 = "\x00-\x08\x0b\x0c\x0e-\x1f"
_FORBIDDEN_RE = re.compile(f"[{_C0}\ud800-\udfff\ufffe\uffff]")  # no "+": 5x faster to scan
_CHAR_REF_RE = re.compile(r"&#([xX][0-9a-fA-F]{1,8}|[0-9]{1,10})")
_C0_TEXT_RE = re.compile(f"[{_C0}]")
_C0_BYTES_RE = re.compile(f"[{_C0}]".encode())
_JUNK_TEXT_RE = re.compile(f"[{_C0}\ufffd\ud800-\udfff]")


def strip_controls(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (tab, LF and CR stay)."""
    return _FORBIDDEN_RE.sub("", text) if _FORBIDDEN_RE.search(text) else text


def refers_to_controls(html: str) -> bool:
    """`html` holds a character reference (`&#27;`, `&#x1b;`) that parses to a character
    `strip_controls` removes."""
    for m in _CHAR_REF_RE.finditer(html):
        ref = m.group(1)
        code = int(ref[1:], 16) if ref[0] in "xX" else int(ref)
        if code < 0x110000 and has_controls(chr(code)):
            return True
    return False


def has_controls(text: str) -> bool:
    """`text` holds a character `strip_controls` removes."""
    return _FORBIDDEN_RE.search(text) is not None


def looks_binary(data: bytes | str) -> bool:
    """`data` (raw bytes, or the text they were decoded to) is not text: it starts with a
    known file signature, or its first 64 KB are 5 % C0 control characters (NUL included),
    or, decoded, 15 % controls and replacement characters."""
    head = data[:_SAMPLE]
    if isinstance(head, bytes):
        if head.lstrip().startswith(_MAGIC):
            return True
        return _share(len(_C0_BYTES_RE.findall(head)), head) >= _CONTROL_SHARE
    if head.lstrip().startswith(_MAGIC_TEXT) or "PNG\r\n\x1a\n" in head[:12]:
        return True
    controls = len(_C0_TEXT_RE.findall(head))
    if _share(controls, head) >= _CONTROL_SHARE:
        return True
    return _share(len(_JUNK_TEXT_RE.findall(head)), head) >= _JUNK_SHARE


def _share(count: int, sample: bytes | str) -> float:
    return count / len(sample) if sample else 0.0
