// The official supabase-js Realtime client against the stand-in (tests/standin/test_realtime_clients.py).
//
//   node realtime_js_probe.mjs <url> <anon_key> <email> <password> <topic user id | "self"> <seconds> <refresh_after>
//
// Signs in, joins the private channel sync:<id> as an app would, and prints one JSON line per thing it
// hears: {"type": "status", "status", "error"}, {"type": "broadcast", "event", "payload"}, {"type": "system",
// ...}. With refresh_after > 0 it refreshes the session after that many seconds (supabase-js then hands the
// new token to the channel). Exits after <seconds>.
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

const [url, anonKey, email, password, who, secondsArg, refreshAfterArg] = process.argv.slice(2);
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// Node < 22 has no WebSocket: supabase-js takes the `ws` package as its transport.
const client = createClient(url, anonKey, {
  auth: { persistSession: false, autoRefreshToken: false },
  realtime: { transport: WebSocket },
});
const { data, error } = await client.auth.signInWithPassword({ email, password });
if (error) {
  say({ type: 'fatal', error: error.message });
  process.exit(1);
}
say({ type: 'signed_in', user: data.user.id, expires_at: data.session.expires_at });
await client.realtime.setAuth(data.session.access_token);
const topicUser = who === 'self' ? data.user.id : who;
const channel = client.channel(`sync:${topicUser}`, { config: { private: true } });
channel.on('broadcast', { event: 'changed' }, (message) => say({ type: 'broadcast', event: message.event, payload: message.payload }));
channel.on('system', {}, (message) => say({ type: 'system', ...message }));
channel.subscribe((status, err) => say({ type: 'status', status, error: err ? err.message : null }));

const seconds = Number(secondsArg);
const refreshAfter = Number(refreshAfterArg);
if (refreshAfter > 0) {
  setTimeout(async () => {
    const { data: refreshed, error: refreshError } = await client.auth.refreshSession();
    if (refreshError) say({ type: 'fatal', error: refreshError.message });
    else say({ type: 'refreshed', expires_at: refreshed.session.expires_at });
  }, refreshAfter * 1000);
}
setTimeout(async () => {
  await client.removeAllChannels();
  process.exit(0);
}, seconds * 1000);
