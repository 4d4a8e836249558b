// The official supabase-js Storage client against the stand-in: one run of what an app does with an
// attachment, printed as one JSON object for tests/standin/test_storage_js.py to check.
// usage: node storage_js_probe.mjs URL ANON_KEY EMAIL_A PASSWORD_A EMAIL_B PASSWORD_B
import { createClient } from "@supabase/supabase-js";
import { createHash, randomUUID } from "node:crypto";
import ws from "ws";

const [url, anonKey, emailA, passwordA, emailB, passwordB] = process.argv.slice(2);
const BUCKET = "attachments";

async function signedIn(email, password) {
  const client = createClient(url, anonKey, { realtime: { transport: ws }, auth: { persistSession: false } });
  const { data, error } = await client.auth.signInWithPassword({ email, password });
  if (error) throw error;
  return { client, id: data.user.id };
}

async function attachment(user, bytes) {
  const threadId = randomUUID(), messageId = randomUUID(), id = randomUUID();
  const path = `${user.id}/${id}`;
  for (const [table, row] of [
    ["conversations", { id: threadId, title: "js" }],
    ["messages", { id: messageId, conversation_id: threadId, role: "user", content: "see attached" }],
    ["attachments", { id, message_id: messageId, name: "notes.txt", mime_type: "text/plain", size: bytes.length,
                      sha256: createHash("sha256").update(bytes).digest("hex"), storage_path: path }],
  ]) {
    const { error } = await user.client.from(table).insert(row);
    if (error) throw error;
  }
  return path;
}

const failure = (error) => (error ? { status: error.status, statusCode: error.statusCode, message: error.message } : null);

const out = {};
const a = await signedIn(emailA, passwordA);
const b = await signedIn(emailB, passwordB);
const bucketA = a.client.storage.from(BUCKET);
const bucketB = b.client.storage.from(BUCKET);

const buffer = Buffer.from("bytes from supabase-js, a Buffer: raw body\n".repeat(50));
const blobText = "bytes from supabase-js, a Blob: multipart\n";
const rawPath = await attachment(a, buffer);
const formPath = await attachment(a, Buffer.from(blobText));

let r = await bucketA.upload(rawPath, buffer, { contentType: "text/plain" });
out.uploadRaw = { data: r.data, error: failure(r.error) };
r = await bucketA.upload(formPath, new Blob([blobText], { type: "text/plain" }));
out.uploadBlob = { data: r.data, error: failure(r.error) };
r = await bucketA.upload(rawPath, buffer, { contentType: "text/plain" });
out.uploadAgain = failure(r.error);
r = await bucketA.upload(rawPath, buffer, { contentType: "text/plain", upsert: true });
out.upsert = failure(r.error);

r = await bucketA.download(rawPath);
out.downloadRaw = r.error ? failure(r.error) : Buffer.from(await r.data.arrayBuffer()).equals(buffer);
r = await bucketA.download(formPath);
out.downloadBlob = r.error ? failure(r.error) : (await r.data.text()) === blobText;
r = await bucketA.list(a.id);
out.list = r.error ? failure(r.error) : r.data.map((item) => item.name).sort();
r = await a.client.storage.getBucket(BUCKET);
out.bucket = r.error ? failure(r.error) : { id: r.data.id, public: r.data.public };

r = await bucketB.download(rawPath);
out.otherDownload = failure(r.error);
r = await bucketB.upload(rawPath, Buffer.from("overwritten"), { upsert: true });
out.otherUpload = failure(r.error);
r = await bucketB.remove([rawPath]);
out.otherRemove = r.error ? failure(r.error) : r.data;

const publicUrl = bucketA.getPublicUrl(rawPath).data.publicUrl;
const reply = await fetch(publicUrl);
out.publicUrl = { status: reply.status, body: await reply.json() };

r = await bucketA.remove([rawPath, formPath]);
out.remove = r.error ? failure(r.error) : r.data.map((item) => item.name).sort();
r = await bucketA.download(rawPath);
out.afterRemove = failure(r.error);
out.paths = [rawPath, formPath].sort();

console.log(JSON.stringify(out));
process.exit(0);
