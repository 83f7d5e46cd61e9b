// Relative links between the docs pages resolve: the file exists and, for a
// #fragment, a heading with that GitHub anchor does. docs/rabbitmq-differences.md
// points into most other pages, so a renamed heading breaks this test, not the page.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const docs = fileURLToPath(new URL('../../../../docs/', import.meta.url));

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(file: string): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync(`${docs}${file}`, 'utf8').split('\n')) {
    const m = /^#{1,6}\s+(.*)$/.exec(line);
    if (m) out.add(anchor(m[1]));
  }
  return out;
}

test('relative links in docs/*.md point to existing pages and headings', () => {
  const pages = readdirSync(docs).filter((f) => f.endsWith('.md'));
  assert.ok(pages.includes('rabbitmq-differences.md'));
  const broken: string[] = [];
  for (const page of pages) {
    const text = readFileSync(`${docs}${page}`, 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // http(s), mailto
      const [file, fragment] = target.split('#');
      const path = file === '' ? page : file;
      if (!path.endsWith('.md')) continue;
      if (!existsSync(`${docs}${path}`)) broken.push(`${page}: ${target} (no such page)`);
      else if (fragment !== undefined && !anchors(path).has(fragment)) broken.push(`${page}: ${target} (no such heading)`);
    }
  }
  assert.deepEqual(broken, []);
});
