"""Reading files for a turn and the content parts built from them: exact strings and parts, images
downscaled past the limit, images refused for a text-only model, corrupt PDFs and binary files refused
before anything is sent or stored — and the parts as the fake OpenAI server receives them."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image
from pypdf import PdfWriter

from agent.attachments.content import ImagesNotAccepted, build_user_content, file_block
from agent.attachments.reading import AttachmentRefused, clean_name, prepare_bytes, read_file
from agent.attachments.settings import AttachmentSettings, load_settings, save_settings
from agent.llm.client import LLMClient
from standin.demo.pdf import make_pdf


def _png(size=(40, 30), mode="RGB", color=(10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, "PNG")
    return out.getvalue()


# -- reading -------------------------------------------------------------------------------------

def test_text_kinds_by_name_and_content(tmp_path):
    cases = {"notes.md": ("# Title\r\nbody\r\n", "text/markdown", "# Title\nbody\n"),
             "data.csv": ("a,b\n1,2\n", "text/csv", "a,b\n1,2\n"),
             "conf.json": ('{"a": [1, 2]}', "application/json", '{"a": [1, 2]}'),
             "main.py": ("print('hi')\n", "text/x-python", "print('hi')\n"),
             "Makefile": ("all:\n\techo ok\n", "text/plain", "all:\n\techo ok\n")}
    for name, (content, mime, text) in cases.items():
        (tmp_path / name).write_bytes(content.encode())
        prepared = read_file(tmp_path / name)
        assert (prepared.name, prepared.mime_type, prepared.kind, prepared.text) == (name, mime, "text", text)
    (tmp_path / "utf16.txt").write_bytes("\ufeffhällo".encode("utf-16-le"))  # with its BOM
    assert read_file(tmp_path / "utf16.txt").text == "hällo"


@pytest.mark.parametrize("name, data, reason", [
    ("notes.txt", b"text\x00with a NUL", "binary file"),
    ("program.exe", bytes(range(256)) * 4, "binary file"),
    ("latin1.txt", "caf\xe9".encode("latin-1"), "not UTF-8 text"),
    ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ngarbage", "not a readable PDF"),
    ("cut.pdf", None, "not a readable PDF"),
    ("empty.pdf", None, "no text to read"),
    ("locked.pdf", None, "password-protected PDF"),
    ("bad.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a readable image"),
])
def test_unreadable_files_are_refused_with_the_reason(name, data, reason):
    if name == "cut.pdf":
        data = make_pdf("hello there")[:120]
    elif name == "empty.pdf":
        writer, out = PdfWriter(), io.BytesIO()
        writer.add_blank_page(612, 792)
        writer.write(out)
        data = out.getvalue()
    elif name == "locked.pdf":
        writer, out = PdfWriter(clone_from=io.BytesIO(make_pdf("secret words"))), io.BytesIO()
        writer.encrypt("pw", algorithm="RC4-128")
        writer.write(out)
        data = out.getvalue()
    with pytest.raises(AttachmentRefused, match=reason) as refused:
        prepare_bytes(name, data)
    assert str(refused.value).startswith(name)


def test_a_pdf_is_its_text_page_by_page():
    prepared = prepare_bytes("paper.pdf", make_pdf("First page words", "Second page words"))
    assert (prepared.kind, prepared.mime_type) == ("pdf", "application/pdf")
    assert prepared.text == "[page 1]\nFirst page words\n\n[page 2]\nSecond page words"


def test_limits_come_before_reading(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 3000)
    with pytest.raises(AttachmentRefused, match=r"big.txt is 0.0 MB; the limit is 0.0 MB"):
        read_file(big, AttachmentSettings(max_file_mb=0.001).validated())
    with pytest.raises(AttachmentRefused, match="3,000 characters of text; the limit is 1,000"):
        read_file(big, AttachmentSettings(max_text_chars=1000))
    with pytest.raises(AttachmentRefused, match="not a file"):
        read_file(tmp_path)


def test_names_are_cleaned_and_bounded():
    assert clean_name("a\x00b\nc.txt") == "a b c.txt"
    long = clean_name("x" * 400 + ".md")
    assert len(long) == 255 and long.endswith("….md")
    assert clean_name("\x01") == "file"


def test_settings_file_is_clamped(tmp_path):
    (tmp_path / "attachments.json").write_text(json.dumps({"max_file_mb": 1e400, "image_max_side": "NaN",
                                                           "image_max_kb": -5, "unknown": 1}))
    settings = load_settings(tmp_path)
    assert settings.max_file_mb == 50.0 and settings.image_max_side == 2048 and settings.image_max_kb == 16
    assert save_settings(tmp_path, AttachmentSettings(max_file_mb=5)).max_file_mb == 5
    assert load_settings(tmp_path).max_file_mb == 5


# -- content parts -------------------------------------------------------------------------------

def test_no_attachment_leaves_the_content_a_string():
    assert build_user_content("Hello", [], accepts_images=False) == "Hello"


def test_text_files_join_the_text_as_named_blocks():
    notes = prepare_bytes("notes.md", b"- one\n- two\n")
    data = prepare_bytes('say "hi".csv', b"a,b\n1,2\n")
    content = build_user_content("Summarise these.", [notes, data], accepts_images=False)
    assert content == ('Summarise these.\n\n<file name="notes.md" type="text/markdown">\n- one\n- two\n\n</file>'
                       "\n\n<file name=\"say 'hi'.csv\" type=\"text/csv\">\na,b\n1,2\n\n</file>")
    assert file_block(notes) in content


def test_images_become_image_url_parts_beside_the_text():
    png = _png()
    photo, notes = prepare_bytes("photo.png", png), prepare_bytes("notes.txt", b"context")
    content = build_user_content("What is this?", [photo, notes], accepts_images=True)
    assert content == [
        {"type": "text", "text": 'What is this?\n\n<file name="notes.txt" type="text/plain">\ncontext\n</file>'},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}},
    ]


def test_a_large_image_is_downscaled_for_the_request_only():
    big = _png((3000, 1000), color=(120, 40, 200))
    photo = prepare_bytes("wide.png", big)
    assert (photo.width, photo.height) == (3000, 1000) and photo.data == big
    (_, part) = build_user_content("", [photo], accepts_images=True, settings=AttachmentSettings(image_max_side=1024))
    header, _, payload = part["image_url"]["url"].partition(",")
    assert header == "data:image/jpeg;base64"
    with Image.open(io.BytesIO(base64.b64decode(payload))) as sent:
        assert sent.size == (1024, 341) and sent.format == "JPEG"
    transparent = prepare_bytes("logo.png", _png((2500, 2500), mode="RGBA", color=(0, 0, 0, 0)))
    (_, part) = build_user_content("", [transparent], accepts_images=True)
    assert part["image_url"]["url"].startswith("data:image/png;base64,")
    tiny = AttachmentSettings(image_max_kb=16)
    noisy = Image.frombytes("RGB", (900, 900), bytes((i * 7919) % 251 for i in range(900 * 900 * 3)))
    out = io.BytesIO()
    noisy.save(out, "PNG")
    (_, part) = build_user_content("", [prepare_bytes("noise.png", out.getvalue())], accepts_images=True,
                                   settings=tiny)
    assert len(base64.b64decode(part["image_url"]["url"].partition(",")[2])) <= 16 * 1024


def test_an_image_for_a_text_only_model_is_a_clear_refusal():
    with pytest.raises(ImagesNotAccepted, match=r"does not take images \(photo.png\); remove it"):
        build_user_content("look", [prepare_bytes("photo.png", _png())], accepts_images=False)


def test_the_fake_openai_server_receives_exactly_these_parts(fake_llm):
    png = _png((8, 8))
    content = build_user_content("Describe the image and the notes.",
                                 [prepare_bytes("p.png", png), prepare_bytes("n.md", b"# n\n")],
                                 accepts_images=True)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": content}]
    reply = "".join(LLMClient(fake_llm.base_url, "fake-model").stream_chat(messages))
    assert reply == "Hello from the fake model."
    (request,) = fake_llm.chat_requests
    assert request.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": 'Describe the image and the notes.\n\n<file name="n.md" type="text/markdown">'
                                     "\n# n\n\n</file>"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}},
        ]},
    ]
