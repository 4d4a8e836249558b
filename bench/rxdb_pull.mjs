// The peer in bench/bench_sync.py: RxDB's Supabase replication plugin pulling the same `messages` rows from
// the same stand-in (in-memory storage: no durability, so it is measured at its most favourable).
//
//   node rxdb_pull.mjs <url> <anon_key> <email> <password> <batch_size> <rewrite_quotes 0|1> <expected_rows>
//
// Run from a folder where `npm install rxdb rxjs @supabase/supabase-js` was done (the bench does it in a
// temporary folder). Prints one JSON line: rows, seconds, rows_per_s, requests, rewritten.
//
// rewrite_quotes=1: RxDB's checkpoint filter quotes the column names,
// or=("updated_at".gt.<ts>,and("updated_at".eq.<ts>,"id".gt.<id>)), which real PostgREST accepts. A stand-in
// that refuses them gets the same filter without the quotes (the rows selected are identical).
import { createClient } from '@supabase/supabase-js';
import { createRxDatabase } from 'rxdb';
import { replicateSupabase } from 'rxdb/plugins/replication-supabase';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';

const [url, anonKey, email, password, batchArg, rewriteArg, expectedArg] = process.argv.slice(2);
const batchSize = Number(batchArg);
const rewrite = rewriteArg === '1';
const expected = Number(expectedArg);
let requests = 0;

async function countingFetch(input, init) {
  let target = typeof input === 'string' ? input : input.url;
  if (target.includes('/rest/v1/')) {
    requests += 1;
    if (rewrite) target = target.replaceAll('%22', '');
  }
  return fetch(target, init);
}

// live: false never opens Realtime; Node < 22 has no WebSocket, and supabase-js wants a constructor anyway.
class NoRealtime { constructor() { throw new Error('realtime is not used by this benchmark'); } }

const client = createClient(url, anonKey, {
  auth: { persistSession: false, autoRefreshToken: false },
  realtime: { transport: NoRealtime },
  global: { fetch: countingFetch },
});
const { error: signInError } = await client.auth.signInWithPassword({ email, password });
if (signInError) throw signInError;

const db = await createRxDatabase({ name: 'bench' + Date.now(), storage: getRxStorageMemory(), multiInstance: false });
await db.addCollections({
  messages: {
    schema: {
      version: 0,
      primaryKey: 'id',
      type: 'object',
      properties: {
        id: { type: 'string', maxLength: 36 },
        user_id: { type: 'string' },
        conversation_id: { type: 'string' },
        role: { type: 'string' },
        content: { type: 'string' },
        created_at: { type: 'string' },
        updated_at: { type: 'string' },
      },
      required: ['id'],
    },
  },
});

const started = performance.now();
const replication = replicateSupabase({
  tableName: 'messages',
  client,
  collection: db.messages,
  replicationIdentifier: 'bench-messages',
  live: false,
  waitForLeadership: false,
  modifiedField: 'updated_at',
  deletedField: 'deleted_at',
  pull: { batchSize },
});
// RxDB retries a failed pull every few seconds forever: report the first error and stop instead.
replication.error$.subscribe((err) => {
  const inner = err?.parameters?.errors?.[0] || err;
  console.error(`rxdb replication error: ${inner?.code || ''} ${inner?.message || err}`);
  process.exit(2);
});
await replication.awaitInitialReplication();
const seconds = (performance.now() - started) / 1000;
const rows = await db.messages.count().exec();
await replication.cancel();
await db.close();
if (rows !== expected) {
  console.error(`rxdb pulled ${rows} rows, expected ${expected}`);
  process.exit(1);
}
console.log(JSON.stringify({ rows, seconds, rows_per_s: rows / seconds, requests, rewritten: rewrite }));
process.exit(0);
