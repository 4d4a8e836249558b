"""The user message's `content` from its text and its attachments — a pure function of its inputs.

- No attachment: the text, a plain string (the request is exactly what it was before attachments).
- Text kinds only (text, Markdown, code, CSV, JSON, a PDF's text): still one string — the text, then each
  file as a block that names it — because every OpenAI-compatible server takes a string, and not all of
  them take content parts.
- With an image: OpenAI content parts, `[{"type": "text", "text": <the same string>},
  {"type": "image_url", "image_url": {"url": "data:<mime>;base64,…"}}, …]`, images in attachment order.
  An image larger than the settings allow (side in pixels, or encoded size) is downscaled and re-encoded
  for the request (JPEG, or PNG when it has transparency); the stored attachment keeps the original.
- An image for a connection whose model does not take images is refused (ImagesNotAccepted) before
  anything is sent.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from agent.attachments.reading import AttachmentRefused, PreparedFile
from agent.attachments.settings import AttachmentSettings


class ImagesNotAccepted(AttachmentRefused):
    """An image for a model that does not take images."""


def file_block(file: PreparedFile) -> str:
    """One text attachment as the model reads it: delimited and named, its text verbatim."""
    name = file.name.replace('"', "'")
    return f'<file name="{name}" type="{file.mime_type}">\n{file.text}\n</file>'


def text_with_files(text: str, files: Sequence[PreparedFile]) -> str:
    blocks = [file_block(f) for f in files if not f.is_image]
    return "\n\n".join([text, *blocks]) if blocks else text


def image_refusal(images: Sequence[PreparedFile]) -> str:
    names = ", ".join(f.name for f in images)
    return (f"this connection's model does not take images ({names}); remove {'it' if len(images) == 1 else 'them'},"
            " or turn on \"accepts images\" for the connection if its model does")


def build_user_content(text: str, files: Sequence[PreparedFile], *, accepts_images: bool,
                       settings: AttachmentSettings | None = None) -> str | list[dict]:
    """The `content` of the user message for `text` and its attachments (see the module docstring)."""
    settings = settings or AttachmentSettings()
    images = [f for f in files if f.is_image]
    if images and not accepts_images:
        raise ImagesNotAccepted(image_refusal(images))
    body = text_with_files(text, files)
    if not images:
        return body
    return [{"type": "text", "text": body},
            *({"type": "image_url", "image_url": {"url": image_data_url(f, settings)}} for f in images)]


def image_data_url(file: PreparedFile, settings: AttachmentSettings) -> str:
    data, mime = fitted_image(file, settings)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def fitted_image(file: PreparedFile, settings: AttachmentSettings) -> tuple[bytes, str]:
    """(bytes, MIME type) of the image as sent: the original when it is within both limits, else
    downscaled (and shrunk further until it fits the byte limit)."""
    max_bytes = settings.image_max_kb * 1024
    side = max(file.width or 0, file.height or 0)
    if side <= settings.image_max_side and len(file.data) <= max_bytes:
        return file.data, file.mime_type
    from PIL import Image

    with Image.open(io.BytesIO(file.data)) as source:
        source.seek(0)  # an animated GIF: its first frame
        alpha = source.mode in ("RGBA", "LA", "PA") or (source.mode == "P" and "transparency" in source.info)
        image = source.convert("RGBA" if alpha else "RGB")
    limit = min(settings.image_max_side, max(image.size))
    while True:
        scaled = image.copy()
        scaled.thumbnail((limit, limit), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        if alpha:
            scaled.save(out, "PNG", optimize=True)
        else:
            scaled.save(out, "JPEG", quality=85, optimize=True)
        if out.tell() <= max_bytes or limit <= 64:
            return out.getvalue(), "image/png" if alpha else "image/jpeg"
        limit = max(64, int(limit * 0.75))
