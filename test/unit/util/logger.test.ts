import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, formatJsonLine, formatLine, parseLogFormat, parseLogLevel } from '../../../src/util/logger.js';

function capture(level: Parameters<typeof createLogger>[0]) {
  const lines: string[] = [];
  return { lines, log: createLogger(level, (l) => lines.push(l)) };
}

const stamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

describe('logger', () => {
  it('writes timestamp, level, message and fields on one line', () => {
    const { lines, log } = capture('debug');
    log.warn('connection closed', { conn: 7, peer: '[::1]:5000', ok: false });
    assert.equal(lines.length, 1);
    assert.match(lines[0], stamp);
    assert.equal(lines[0].replace(stamp, ''), 'warn connection closed conn=7 peer=[::1]:5000 ok=false');
  });

  it('filters by level', () => {
    for (const [level, expected] of [
      ['debug', ['debug', 'info', 'warn', 'error']],
      ['info', ['info', 'warn', 'error']],
      ['warn', ['warn', 'error']],
      ['error', ['error']],
      ['silent', []],
    ] as const) {
      const { lines, log } = capture(level);
      log.debug('m');
      log.info('m');
      log.warn('m');
      log.error('m');
      assert.deepEqual(lines.map((l) => l.split(' ')[1]), expected, level);
    }
  });

  it('child loggers add fields; an event field wins on a clash', () => {
    const { lines, log } = capture('info');
    const child = log.child({ conn: 1, vhost: '/' }).child({ ch: 2 });
    child.info('opened', { ch: 3, user: 'guest' });
    assert.equal(lines[0].replace(stamp, ''), 'info opened conn=1 vhost=/ ch=3 user=guest');
    log.info('parent unchanged');
    assert.equal(lines[1].replace(stamp, ''), 'info parent unchanged');
  });

  it('quotes values only when needed, and stays on one line', () => {
    const t = new Date('2026-11-22T06:00:00.000Z');
    const cases: [unknown, string][] = [
      ['plain', 'plain'],
      ['two words', '"two words"'],
      ['', '""'],
      ['a"b', '"a\\"b"'],
      ['a=b', '"a=b"'],
      ['line\nbreak', '"line\\nbreak"'],
      ['tab\there', '"tab\\there"'],
      [12.5, '12.5'],
      [10n, '10'],
      [null, 'null'],
      [true, 'true'],
      [{ a: [1, 'x'] }, '{"a":[1,"x"]}'],
      [{ big: 1n }, '{"big":"1"}'],
      [new Error('boom'), 'boom'],
      [Object.assign(new Error('in use'), { code: 'EADDRINUSE' }), '"EADDRINUSE: in use"'],
    ];
    for (const [value, expected] of cases) {
      assert.equal(formatLine(t, 'info', 'm', { k: value }), `2026-11-22T06:00:00.000Z info m k=${expected}`);
    }
  });

  it('skips undefined fields, quotes odd keys, survives cycles, escapes newlines in messages', () => {
    const t = new Date(0);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal(formatLine(t, 'info', 'm', { a: undefined, b: 1 }), '1970-01-01T00:00:00.000Z info m b=1');
    assert.equal(formatLine(t, 'info', 'm', { 'a b': 1 }), '1970-01-01T00:00:00.000Z info m "a b"=1');
    assert.equal(formatLine(t, 'info', 'm', { c: cyclic }), '1970-01-01T00:00:00.000Z info m c="[object Object]"');
    assert.equal(formatLine(t, 'error', 'one\ntwo', {}), '1970-01-01T00:00:00.000Z error one\\ntwo');
  });

  it('writes to stderr by default', () => {
    const original = process.stderr.write;
    const written: string[] = [];
    process.stderr.write = ((chunk: string) => {
      written.push(chunk);
      return true;
    }) as typeof process.stderr.write;
    try {
      createLogger('info').info('hello', { n: 1 });
    } finally {
      process.stderr.write = original;
    }
    assert.equal(written.length, 1);
    assert.match(written[0], /^\S+ info hello n=1\n$/);
  });
});

describe('parseLogLevel', () => {
  it('accepts the five levels, any case, with spaces trimmed', () => {
    for (const l of ['debug', 'info', 'warn', 'error', 'silent'] as const) {
      assert.equal(parseLogLevel(l), l);
      assert.equal(parseLogLevel(` ${l.toUpperCase()} `), l);
    }
  });

  it('throws on anything else', () => {
    for (const bad of ['', 'warning', 'trace', 'verbose', 'none']) {
      assert.throws(() => parseLogLevel(bad), { message: `invalid log level '${bad}' (expected debug, info, warn, error, silent)` });
    }
  });
});

describe('logger, json format', () => {
  it('writes one JSON object per line: time, level, msg, then the fields', () => {
    const lines: string[] = [];
    const log = createLogger('info', (l) => lines.push(l), 'json').child({ conn: 7 });
    log.info('connection opened', { user: 'guest', vhost: '/', skipped: undefined });
    log.debug('not shown');
    log.warn('multi\nline "quoted"', { err: new Error('boom'), big: 2n ** 70n, nested: { a: [1] } });
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0]) as Record<string, unknown>;
    assert.deepEqual(Object.keys(first), ['time', 'level', 'msg', 'conn', 'user', 'vhost']);
    assert.match(first.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual({ ...first, time: 0 }, { time: 0, level: 'info', msg: 'connection opened', conn: 7, user: 'guest', vhost: '/' });
    assert.ok(!lines[1].includes('\n'));
    assert.deepEqual(JSON.parse(lines[1]), {
      time: (JSON.parse(lines[1]) as { time: string }).time,
      level: 'warn', msg: 'multi\nline "quoted"', conn: 7, err: 'boom', big: (2n ** 70n).toString(), nested: { a: [1] },
    });
  });

  it('a field named time, level or msg cannot hide the line\'s own', () => {
    const line = JSON.parse(formatJsonLine(new Date(0), 'info', 'm', { time: 1, level: 'x', msg: 'y' })) as Record<string, unknown>;
    assert.deepEqual(line, { time: '1970-01-01T00:00:00.000Z', level: 'info', msg: 'm', field_time: 1, field_level: 'x', field_msg: 'y' });
  });

  it('a circular field still gives a parsable line', () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    const line = JSON.parse(formatJsonLine(new Date(0), 'error', 'm', { o })) as Record<string, unknown>;
    assert.equal(line.msg, 'm');
  });

  it('parseLogFormat accepts text and json, any case', () => {
    assert.equal(parseLogFormat(' JSON '), 'json');
    assert.equal(parseLogFormat('text'), 'text');
    assert.throws(() => parseLogFormat('xml'), { message: "invalid log format 'xml' (expected text, json)" });
  });
});
