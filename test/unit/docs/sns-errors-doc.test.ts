// Every error code the SNS service raises is one of SNS's (botocore's model lists it)
// and is documented in docs/aws.md's SNS section.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

test("the SNS service's error codes are SNS's and documented in docs/aws.md", () => {
  const dir = `${root}src/server/aws/sns/`;
  const codes = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    for (const m of readFileSync(dir + f, 'utf8').matchAll(/AwsError\('([A-Za-z]+)'/g)) codes.add(m[1]);
  }
  assert.ok(codes.size >= 8, `found ${[...codes].join(', ')}`);
  const model = JSON.parse(readFileSync(`${root}spec/aws/sns-2010-03-31.json`, 'utf8')) as { shapes: Record<string, { error?: { code?: string } }> };
  const modelCodes = new Set(Object.values(model.shapes).flatMap((s) => (s.error?.code ? [s.error.code] : [])));
  const doc = readFileSync(`${root}docs/aws.md`, 'utf8');
  const sns = doc.slice(doc.indexOf('# Amazon SNS API'));
  for (const c of codes) {
    assert.ok(modelCodes.has(c), `${c} is not an SNS error code`);
    assert.ok(sns.includes(`\`${c}\``), `${c} missing from docs/aws.md's SNS section`);
  }
});
