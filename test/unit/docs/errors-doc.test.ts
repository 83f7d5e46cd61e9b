// Every reply code the AMQP spec defines is documented in docs/errors.md.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

test('docs/errors.md lists every AMQP reply code', () => {
  const spec = JSON.parse(readFileSync(`${root}spec/amqp-rabbitmq-0.9.1.json`, 'utf8')) as {
    constants: { name: string; value: number; class?: string }[];
  };
  const doc = readFileSync(`${root}docs/errors.md`, 'utf8');
  const codes = spec.constants.filter((c) => c.class !== undefined || c.name === 'REPLY-SUCCESS');
  assert.ok(codes.length >= 19);
  for (const c of codes) {
    const name = c.name.replace(/-/g, '_');
    assert.match(doc, new RegExp(`\\| ${c.value} \\| ${name} \\|`), `${c.value} ${name} missing from docs/errors.md`);
  }
});
