// TypeScript declarations for baton/reporter, a node:test reporter.

/** Consumes node:test's event stream, records the run into baton, writes JUnit, yields console lines. */
declare function batonReporter(source: AsyncIterable<{ type: string; data: any }>): AsyncGenerator<string, void, unknown>;
export = batonReporter;
