'use strict';
// Throughput of the binding: pushes per second through koffi, with and without
// JS plugins. Run: node bench/push.js [events]   (BATON_LIBRARY as for the tests)

const { Engine } = require('..');

const N = Number(process.argv[2] ?? 100_000);

function measure(label, setup) {
  const engine = new Engine({ path: ':memory:', durability: 'async' });
  const session = engine.session({ client: 'bench' });
  session.push({ type: 'run.start', run: 'bench' });
  session.push({ type: 'test.start', run: 'bench', id: 't', name: 't' });
  const push = setup(engine, session);
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) push(i);
  engine.flush();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  engine.close();
  console.log(`${label.padEnd(44)} ${Math.round(N / seconds).toString().padStart(9)} pushes/s`);
}

const logOf = (i) => ({ type: 'test.log', run: 'bench', id: 't', message: `line ${i}` });

measure('object, push()', (engine, s) => (i) => s.push(logOf(i)));
measure('JSON text, pushRaw()', (engine, s) => (i) => s.pushRaw(JSON.stringify(logOf(i))));
measure('Buffer, pushRaw()', (engine, s) => (i) => s.pushRaw(Buffer.from(JSON.stringify(logOf(i)))));
measure('object, push(), JS filter + observer', (engine, s) => {
  engine.addPlugin('bench', { filter: (ev) => ev.type !== 'never', observe: () => undefined });
  return (i) => s.push(logOf(i));
});
measure('object, push(), filter reading ev.data', (engine, s) => {
  engine.addPlugin('bench', { filter: (ev) => ev.data.run === 'bench' });
  return (i) => s.push(logOf(i));
});
