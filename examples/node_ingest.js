'use strict';
// Ingests a JSON Lines stream (a file, or a generated one) into baton, counts failures
// with an observer plugin and prints each run's summary.   node node_ingest.js [FILE]
const fs = require('node:fs');
const { Engine } = require('../bindings/node');
function* generated(run = 'node-example', tests = 40) {
  yield { type: 'run.start', run }; for (let i = 0; i < tests; i++) {
    yield { type: 'test.start', run, id: `t${i}`, name: `case ${i}` };
    yield { type: 'test.end', run, id: `t${i}`, status: i % 9 === 4 ? 'failed' : 'passed' };
  }
  yield { type: 'run.end', run };
}
const lines = process.argv[2] ? fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean) : [...generated()].map((m) => JSON.stringify(m));
const failures = new Map();
const engine = new Engine({ path: process.env.BATON_DB || ':memory:' });
engine.addPlugin('failure-counter', {
  observe(ev) { if (ev.type === 'test.end' && ['failed', 'timedout'].includes(ev.data.status)) failures.set(ev.data.run, (failures.get(ev.data.run) ?? 0) + 1); },
});
const sessions = new Map(); const runs = new Map(); // one session per client, as a server opens per connection
for (const line of lines) {
  const { client = 'node-ingest', run } = JSON.parse(line);
  if (!sessions.has(client)) sessions.set(client, engine.session({ client }));
  runs.set(run, (runs.get(run) ?? 0) + (sessions.get(client).pushRaw(line).status !== 0 ? 1 : 0));
}
for (const [run, refused] of runs) { // closing the engine below flushes and destroys the plugin
  const s = engine.query({ op: 'run', run });
  console.log(`${run}: ${s.status}, ${s.counts.tests} tests, ${s.counts.failed} failed, ${s.counts.flaky} flaky; observer saw ${failures.get(run) ?? 0} failed attempts; ${refused} refused`);
}
engine.close();
