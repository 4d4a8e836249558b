"""A file → what a model can be given: an image, or text (text, Markdown, code, CSV, JSON, a PDF's text).

Anything else is refused with a sentence that names the file and says why, before anything is sent or
stored: too large, a binary file, a corrupt or encrypted PDF, a PDF without text, an image Pillow cannot
read. The kind is decided by the bytes (a PNG named notes.txt is an image; an executable named notes.txt
is refused as binary), the name only picks the MIME type of text. Knowledge folders read their files
with the same functions (agent.knowledge).
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from agent.attachments.settings import AttachmentSettings

# Text files by extension, with the MIME type they are stored under (lower case, server-checkable).
TEXT_TYPES: dict[str, str] = {
    ".txt": "text/plain", ".text": "text/plain", ".log": "text/plain", ".md": "text/markdown",
    ".markdown": "text/markdown", ".rst": "text/x-rst", ".csv": "text/csv", ".tsv": "text/tab-separated-values",
    ".json": "application/json", ".jsonl": "application/jsonl", ".yaml": "application/yaml",
    ".yml": "application/yaml", ".toml": "application/toml", ".xml": "application/xml", ".html": "text/html",
    ".htm": "text/html", ".css": "text/css", ".ini": "text/plain", ".cfg": "text/plain", ".conf": "text/plain",
    ".py": "text/x-python", ".pyi": "text/x-python", ".js": "text/javascript", ".mjs": "text/javascript",
    ".cjs": "text/javascript", ".ts": "text/x-typescript", ".tsx": "text/x-typescript", ".jsx": "text/javascript",
    ".java": "text/x-java", ".kt": "text/x-kotlin", ".c": "text/x-c", ".h": "text/x-c", ".cpp": "text/x-c++",
    ".cc": "text/x-c++", ".hpp": "text/x-c++", ".cs": "text/x-csharp", ".go": "text/x-go", ".rs": "text/x-rust",
    ".rb": "text/x-ruby", ".php": "text/x-php", ".swift": "text/x-swift", ".scala": "text/x-scala",
    ".sh": "text/x-shellscript", ".bash": "text/x-shellscript", ".zsh": "text/x-shellscript",
    ".ps1": "text/plain", ".sql": "text/x-sql", ".r": "text/x-r", ".lua": "text/x-lua", ".pl": "text/x-perl",
    ".tex": "text/x-tex", ".vue": "text/plain", ".svelte": "text/plain", ".dart": "text/x-dart",
}
PDF_TYPE = "application/pdf"
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
NAME_LIMIT = 255  # attachments_name_length on the server


class AttachmentRefused(ValueError):
    """A file that cannot be attached; str() says which and why."""


@dataclass(frozen=True)
class PreparedFile:
    """A file read and checked: its bytes, and for text kinds the text the model is given."""

    name: str
    mime_type: str
    kind: str  # "text" | "pdf" | "image"
    data: bytes
    text: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def is_image(self) -> bool:
        return self.kind == "image"


def clean_name(name: str) -> str:
    """A file name fit to store and show: control characters out, at most 255 characters (keeping the
    extension), never empty."""
    name = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in name).strip() or "file"
    if len(name) > NAME_LIMIT:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and len(ext) <= 16 else ""
        name = (stem if ext else name)[: NAME_LIMIT - len(ext) - 2] + "…" + (f".{ext}" if ext else "")
    return name


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def read_file(path: str | Path, settings: AttachmentSettings | None = None) -> PreparedFile:
    """Read and check one file for a turn (raises AttachmentRefused)."""
    settings = settings or AttachmentSettings()
    path = Path(path)
    name = clean_name(path.name)
    try:
        if not path.is_file():
            raise AttachmentRefused(f"{name}: not a file")
        size = path.stat().st_size
        if size > settings.max_file_bytes:
            raise AttachmentRefused(f"{name} is {_mb(size)}; the limit is {_mb(settings.max_file_bytes)} "
                                    "(attachments.json: max_file_mb)")
        with open(path, "rb") as f:
            data = f.read(settings.max_file_bytes + 1)
    except OSError as exc:
        raise AttachmentRefused(f"{name} cannot be read: {exc.strerror or exc}") from None
    if len(data) > settings.max_file_bytes:  # it grew while we looked
        raise AttachmentRefused(f"{name} is larger than the limit of {_mb(settings.max_file_bytes)}")
    return prepare_bytes(name, data, settings)


def prepare_bytes(name: str, data: bytes, settings: AttachmentSettings | None = None) -> PreparedFile:
    """The same checks for bytes already in hand (a pasted image, a stored attachment)."""
    settings = settings or AttachmentSettings()
    name = clean_name(name)
    if data.startswith(b"%PDF-"):
        text = pdf_text(data, name)
        _check_length(name, text, settings)
        return PreparedFile(name, PDF_TYPE, "pdf", data, text)
    image = _image_format(data)
    if image is not None:
        width, height = _checked_image(data, name)
        return PreparedFile(name, IMAGE_TYPES[image], "image", data, width=width, height=height)
    text = decode_text(data, name)
    _check_length(name, text, settings)
    mime = TEXT_TYPES.get(Path(name).suffix.lower(), "text/plain")
    return PreparedFile(name, mime, "text", data, text)


def _check_length(name: str, text: str, settings: AttachmentSettings) -> None:
    if len(text) > settings.max_text_chars:
        raise AttachmentRefused(f"{name} has {len(text):,} characters of text; the limit is "
                                f"{settings.max_text_chars:,} (attachments.json: max_text_chars)")


# -- text ----------------------------------------------------------------------------------------

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (or UTF-16 with its BOM) text; a binary file is refused. Line ends become \\n."""
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    if encoding == "utf-8" and b"\x00" in data:
        raise AttachmentRefused(f"{name} is a binary file, not text, an image or a PDF")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise AttachmentRefused(f"{name} is not UTF-8 text (a binary file?), nor an image or a PDF") from None
    if "\x00" in text or len(_CONTROL.findall(text[:100_000])) > max(8, len(text[:100_000]) // 100):
        raise AttachmentRefused(f"{name} is a binary file, not text, an image or a PDF")
    return text.replace("\r\n", "\n").replace("\r", "\n")


# -- PDF -----------------------------------------------------------------------------------------

def pdf_pages(data: bytes, name: str) -> list[str]:
    """The text of each page (pypdf). Corrupt or password-protected PDFs are refused."""
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    quiet = logging.getLogger("pypdf")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # pypdf warns about every small defect it repairs
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise AttachmentRefused(f"{name} is a password-protected PDF")
        return [(page.extract_text() or "").replace("\x00", "") for page in reader.pages]
    except AttachmentRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
            OSError, AssertionError, ZeroDivisionError, NotImplementedError) as exc:
        raise AttachmentRefused(f"{name} is not a readable PDF ({type(exc).__name__}: "
                                f"{' '.join(str(exc).split())[:120]})") from None
    finally:
        quiet.setLevel(level)


def pdf_text(data: bytes, name: str) -> str:
    pages = pdf_pages(data, name)
    if not any(page.strip() for page in pages):
        raise AttachmentRefused(f"{name} has no text to read (a scanned PDF?)")
    return "\n\n".join(f"[page {n}]\n{text.strip()}" for n, text in enumerate(pages, 1) if text.strip())


# -- images --------------------------------------------------------------------------------------

def _image_format(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _checked_image(data: bytes, name: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:  # verify() leaves the image unusable; decode for real
            image.load()
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise AttachmentRefused(f"{name} is not a readable image ({' '.join(str(exc).split())[:120]})") from None
