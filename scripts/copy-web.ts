// Part of `npm run build`: tsc compiles TypeScript only, so the dashboard's
// hand-written assets (src/http/web: HTML, ES modules, CSS) are copied beside the
// compiled server (dist/src/http/web), where src/http/dashboard.ts serves them from.

import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const from = `${root}src/http/web`;
const to = `${root}dist/src/http/web`;
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
