'use strict';
// Embedding baton in a Node WebSocket server (the `ws` package).
//
//   node server.js [--port N] [--db PATH]
//
// One baton session per connection; each text message goes through
// session.pushRaw and baton's reply goes back unchanged. The client names
// itself with ws://HOST:PORT/?client=NAME. BATON_LIBRARY picks the libbaton.
const { WebSocketServer } = require('ws');
const { Engine } = require('../../bindings/node');

function flag(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const engine = new Engine({ path: flag('db', 'node-example.db'), durability: 'normal' });
const server = new WebSocketServer({ host: '127.0.0.1', port: Number(flag('port', '0')), maxPayload: 1 << 20 });

server.on('connection', (ws, request) => {
  const url = new URL(request.url, 'ws://localhost');
  const session = engine.session({ client: url.searchParams.get('client') || 'anonymous' });
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      ws.send(JSON.stringify({ ok: false, code: 'parse', error: 'send each JSON message as a text frame' }));
      return;
    }
    // pushRaw never throws on a refusal: the refusal is the reply the client needs.
    const { reply, detail, code } = session.pushRaw(data);
    ws.send(JSON.stringify(reply ?? { ok: false, code, error: detail }));
  });
  ws.on('close', () => session.close());
});

server.on('listening', () => console.log(`listening on 127.0.0.1:${server.address().port}`));

// Stop accepting, let the open connections go, then flush and close the engine.
function stop() {
  for (const ws of server.clients) ws.close(1001, 'server stopping');
  server.close(() => {
    engine.close();
    console.log('stopped');
  });
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
