'use strict';
// A client for server.js: sends one small run and prints each reply.
//
//   node client.js ws://127.0.0.1:PORT [RUN]
const WebSocket = require('ws');

const url = process.argv[2];
const run = process.argv[3] || `node-example-${Date.now()}`;
const messages = [
  { type: 'run.start', run, name: 'node ws example' },
  { type: 'test.start', run, id: 'adds', name: 'adds' },
  { type: 'test.end', run, id: 'adds', status: 'passed', duration_ms: 3 },
  { type: 'test.start', run, id: 'divides', name: 'divides' },
  { type: 'test.end', run, id: 'divides', status: 'failed', error: { message: 'expected 2, got 3' } },
  { type: 'run.end', run, status: 'failed' },
].map((m, i) => ({ ...m, client: 'example-client', seq: i + 1 }));

const ws = new WebSocket(`${url}/?client=example-client`);
let next = 0;
// One message at a time: each reply is printed next to the message it answers.
ws.on('open', () => ws.send(JSON.stringify(messages[next])));
ws.on('message', (data) => {
  console.log(`${messages[next].type} -> ${data}`);
  next += 1;
  if (next < messages.length) ws.send(JSON.stringify(messages[next]));
  else ws.close();
});
ws.on('error', (err) => {
  console.error(`client: ${err.message}`);
  process.exitCode = 1;
});
