"""Chat turns with attachments and knowledge, end to end: a real SQLite file, the real local attachment
store, real HTTP to the fake OpenAI endpoint — the exact content parts it receives, the rows stored with
the message in one write, history rebuilt the same way, an edit keeping or dropping files, and knowledge
passages in the request with their citations read back to file and line."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from sqlmodel import select

from agent.attachments.content import ImagesNotAccepted
from agent.attachments.reading import prepare_bytes, read_file
from agent.attachments.settings import AttachmentSettings
from agent.chat.turn import DONE, FAILED, ChatTurn
from agent.knowledge.index import add_set, reindex
from agent.prompt import preview_system_prompt_in
from local_schema.models import AgentConnection, Attachment, Conversation, Message
from sync import attachments as blobs
from tests.agent.conftest import add_connection, add_thread


def png(size=(40, 30), color=(10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def data_url(data: bytes, mime="image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


@pytest.fixture
def thread(db, fake_llm):
    with db.session() as s:
        conn = add_connection(s, base_url=fake_llm.base_url)
        conn.accepts_images = True
        s.add(conn)
        s.commit()
        return add_thread(s, conn)


def attachments_of(db, message_id):
    with db.session() as s:
        return [(a.name, a.mime_type, a.size) for a in s.exec(
            select(Attachment).where(Attachment.message_id == message_id).order_by(Attachment.created_at,
                                                                                   Attachment.id)).all()]


def counts(db):
    with db.engine.connect() as c:
        return tuple(c.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                     for t in ("messages", "attachments", "attachment_uploads"))


def test_an_image_and_a_text_file_go_as_content_parts_and_are_stored_with_the_message(db, fake_llm, thread):
    image = png()
    files = [prepare_bytes("photo.png", image), prepare_bytes("notes.md", b"# Beds\nwater at dawn\n")]
    result = ChatTurn(db, thread.id).send("What grows here?", files)
    assert result.status == DONE
    (req,) = fake_llm.chat_requests
    assert req.body["messages"][-1] == {"role": "user", "content": [
        {"type": "text", "text": 'What grows here?\n\n<file name="notes.md" type="text/markdown">\n# Beds\n'
                                 'water at dawn\n\n</file>'},
        {"type": "image_url", "image_url": {"url": data_url(image)}}]}
    assert attachments_of(db, result.user_message_id) == [("photo.png", "image/png", len(image)),
                                                          ("notes.md", "text/markdown", 21)]
    with db.engine.connect() as c:  # both wait to be uploaded after the next push
        assert c.exec_driver_sql("SELECT count(*) FROM attachment_uploads").scalar() == 2
    with db.session() as s:  # the bytes are in the content-addressed store
        shas = [a.sha256 for a in s.exec(select(Attachment)).all()]
    assert all(blobs.local_copy(blobs.store_root(db), sha) for sha in shas)


def test_history_and_regenerate_send_the_same_content_again(db, fake_llm, thread):
    image = png((3000, 1000))  # over image_max_side: downscaled for the request, the same way every time
    first = ChatTurn(db, thread.id).send("Look", [prepare_bytes("wide.png", image)])
    ChatTurn(db, thread.id).send("And now?")
    ChatTurn(db, thread.id).regenerate()
    sent_first = fake_llm.chat_requests[0].body["messages"][-1]
    assert sent_first["content"][1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    for req in fake_llm.chat_requests[1:]:
        assert req.body["messages"][0] == sent_first  # the question with its image, rebuilt from the store
    assert attachments_of(db, first.user_message_id) == [("wide.png", "image/png", len(image))]


def test_a_pdf_goes_as_its_text(db, fake_llm, thread):
    from standin.demo.pdf import make_pdf

    ChatTurn(db, thread.id).send("Summarise", [prepare_bytes("report.pdf", make_pdf("Tomatoes need sun"))])
    content = fake_llm.chat_requests[0].body["messages"][-1]["content"]
    assert content.startswith('Summarise\n\n<file name="report.pdf" type="application/pdf">\n[page 1]\n')
    assert "Tomatoes need sun" in content


def test_an_image_for_a_text_only_connection_is_refused_before_anything_is_stored(db, fake_llm):
    with db.session() as s:
        t = add_thread(s, add_connection(s, base_url=fake_llm.base_url))
    before = counts(db)
    with pytest.raises(ImagesNotAccepted, match=r"does not take images \(photo.png\).*accepts images"):
        ChatTurn(db, t.id).send("Look", [prepare_bytes("photo.png", png())])
    assert counts(db) == before and fake_llm.chat_requests == []


def test_history_with_an_image_after_switching_to_a_text_only_connection_fails_clearly(db, fake_llm, thread):
    ChatTurn(db, thread.id).send("Look", [prepare_bytes("photo.png", png())])
    with db.session() as s:
        text_only = add_connection(s, base_url=fake_llm.base_url, name="Text only")
    result = ChatTurn(db, thread.id, connection_id=text_only.id).send("And?")
    assert result.status == FAILED and "does not take images (photo.png)" in result.error.message
    assert len(fake_llm.chat_requests) == 1  # nothing sent for the failed turn


def test_a_missing_local_copy_is_a_clear_failure_not_a_silent_loss(db, fake_llm, thread):
    first = ChatTurn(db, thread.id).send("Look", [prepare_bytes("notes.txt", b"soil ph 6.5")])
    with db.session() as s:
        sha = s.exec(select(Attachment)).one().sha256
    blobs.blob_path(blobs.store_root(db), sha).unlink()
    result = ChatTurn(db, thread.id).send("More")
    assert result.status == FAILED and "notes.txt cannot be sent" in result.error.message
    assert "signed out" in result.error.message and first.status == DONE and len(fake_llm.chat_requests) == 1


def test_edit_keeps_or_drops_the_attachments(db, fake_llm, thread):
    first = ChatTurn(db, thread.id).send("Look", [prepare_bytes("a.txt", b"alpha"), prepare_bytes("b.txt", b"beta")])
    kept = ChatTurn(db, thread.id).edit_and_resend(first.user_message_id, "Look again")
    assert [n for n, _, _ in attachments_of(db, kept.user_message_id)] == ["a.txt", "b.txt"]
    with db.session() as s:
        a_id = s.exec(select(Attachment).where(Attachment.message_id == first.user_message_id,
                                               Attachment.name == "a.txt")).one().id
    some = ChatTurn(db, thread.id).edit_and_resend(first.user_message_id, "Only a", keep=[a_id],
                                                   files=[prepare_bytes("c.txt", b"gamma")])
    assert [n for n, _, _ in attachments_of(db, some.user_message_id)] == ["a.txt", "c.txt"]
    dropped = ChatTurn(db, thread.id).edit_and_resend(first.user_message_id, "Nothing", keep=[])
    assert attachments_of(db, dropped.user_message_id) == []
    assert fake_llm.chat_requests[-1].body["messages"][-1] == {"role": "user", "content": "Nothing"}
    assert fake_llm.chat_requests[2].body["messages"][-1]["content"] == (
        'Only a\n\n<file name="a.txt" type="text/plain">\nalpha\n</file>\n\n'
        '<file name="c.txt" type="text/plain">\ngamma\n</file>')
    assert [n for n, _, _ in attachments_of(db, first.user_message_id)] == ["a.txt", "b.txt"]  # the old branch


def test_refused_files_are_refused_when_read(tmp_path):
    (tmp_path / "big.txt").write_bytes(b"x" * 3000)
    with pytest.raises(ValueError, match="big.txt is 0.0 MB; the limit"):
        read_file(tmp_path / "big.txt", AttachmentSettings(max_file_mb=0.001))


# -- knowledge ---------------------------------------------------------------------------------

@pytest.fixture
def garden(db, tmp_path):
    folder = tmp_path / "garden"
    folder.mkdir()
    (folder / "beds.md").write_text("# Beds\n\nTomatoes want six hours of sun.\nWater them at dawn.\n")
    (folder / "pests.md").write_text("Aphids hate garlic.\n")
    add_set(db, "garden", folder)
    reindex(db, "garden")
    return folder


def test_knowledge_passages_go_into_the_request_and_citations_map_to_file_and_line(db, fake_llm, thread, garden):
    fake_llm.reply(text="Give them sun [garden/beds.md:1-4] and see [pests.md:1] and [nowhere.md:2].")
    result = ChatTurn(db, thread.id, knowledge=["garden"]).send("How much sun do tomatoes need?")
    system = fake_llm.chat_requests[0].body["messages"][0]
    block = ("Passages from the user's knowledge folders (cite them as [file:line]):\n\n"
             '<passage source="garden/beds.md:1-4">\n# Beds\n\nTomatoes want six hours of sun.\n'
             'Water them at dawn.\n</passage>')
    assert system == {"role": "system", "content": block}
    assert [p.source for p in result.passages] == ["beds.md:1-4"]
    assert [(c.source, c.file) for c in result.citations] == [
        ("garden/beds.md:1-4", garden.resolve() / "beds.md"), ("garden/pests.md:1", garden.resolve() / "pests.md")]
    with db.session() as s:  # the preview shows exactly what was added
        connection = s.get(AgentConnection, s.get(Conversation, thread.id).agent_connection_id)
        assert preview_system_prompt_in(s, connection, conversation_id=thread.id, knowledge=block) == block
        assert s.exec(select(Message).where(Message.role == "user")).one().content == \
            "How much sun do tomatoes need?"  # the passages are not stored in the message


def test_citations_never_leave_the_set_folder(db, garden):
    from agent.knowledge.citations import citations

    assert citations(db, "[garden/../../etc/passwd:1] [../beds.md:2] [beds.md:x]") == []
    assert [c.source for c in citations(db, "see [beds.md:3] twice [beds.md:3]")] == ["garden/beds.md:3"]
    other = garden.parent / "other"
    other.mkdir()
    (other / "beds.md").write_text("Another beds file.\n")
    add_set(db, "other", other)
    reindex(db, "other")
    assert citations(db, "[beds.md:1]") == []  # in two sets: only `<set>/beds.md` says which
    assert [c.file for c in citations(db, "[other/beds.md:1] [garden/pests.md:1]")] == [
        other.resolve() / "beds.md", garden.resolve() / "pests.md"]


def test_an_unknown_knowledge_set_fails_before_sending(db, fake_llm, thread):
    result = ChatTurn(db, thread.id, knowledge=["nope"]).send("hello")
    assert result.status == FAILED and "no knowledge set named nope" in result.error.message
    assert fake_llm.chat_requests == []


def test_a_fork_keeps_the_questions_attachments(db, fake_llm, thread):
    from agent.chat.tree import fork

    first = ChatTurn(db, thread.id).send("Look", [prepare_bytes("photo.png", png()), prepare_bytes("a.txt", b"alpha")])
    copy = fork(db, thread.id, first.reply_message_id)
    ChatTurn(db, copy.id).send("Continue")
    assert fake_llm.chat_requests[-1].body["messages"][0] == fake_llm.chat_requests[0].body["messages"][-1]
    with db.session() as s:
        question = s.exec(select(Message).where(Message.conversation_id == copy.id, Message.role == "user")
                          .order_by(Message.seq)).first()
    assert [n for n, _, _ in attachments_of(db, question.id)] == ["photo.png", "a.txt"]
    assert counts(db)[1:] == (4, 4)  # two attachments and their uploads, twice
