// Lint runs inside `npm test`. Besides the recommended rules, it enforces the
// layering in docs/architecture.md: protocol imports nothing else in src,
// broker and store never import server, http or cli (the broker uses protocol
// only for stored content formats, see below), the clients (AMQP and Kafka)
// import only protocol, and only cli, bench and test import them.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (files, forbidden, why) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ group: forbidden, message: why }] }],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The dashboard's hand-written browser modules (served as they are, no bundler).
    files: ['src/http/web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries([
        'window', 'document', 'location', 'history', 'sessionStorage', 'fetch', 'atob', 'btoa', 'Node', 'HTMLElement',
        'URLSearchParams', 'TextEncoder', 'TextDecoder', 'Intl', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval',
      ].map((name) => [name, 'readonly'])),
    },
  },
  layer(['src/protocol/**'], ['**/broker/**', '**/store/**', '**/server/**', '**/http/**', '**/cli/**', '**/client/**'],
    'src/protocol is bytes only: it imports nothing else in src'),
  {
    files: ['src/broker/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/server/**', '**/http/**', '**/cli/**', '**/client/**'], message: 'src/broker knows nothing of sockets or wire bytes' },
          {
            // Two formats are also storage formats: AMQP content (the stored message) and Kafka's
            // v2 record batch (the stored stream batch, transaction markers included, which the broker
            // also builds for AMQP publishes into stream queues and decodes, decompressing, for their
            // AMQP consumers).
            regex: '(^|/)protocol/(?!amqp/content\\.js$|kafka/record-batch\\.js$|kafka/control-records\\.js$)',
            message: 'src/broker knows nothing of wire bytes; it may use message content only through protocol/amqp/content.js and stream batches through protocol/kafka/record-batch.js and control-records.js',
          },
        ],
      }],
    },
  },
  layer(['src/store/**'], ['**/broker/**', '**/server/**', '**/http/**', '**/cli/**', '**/protocol/**', '**/client/**'],
    'src/store is the bottom layer'),
  layer(['src/cluster/**'], ['**/server/**', '**/http/**', '**/cli/**', '**/client/**', '**/protocol/**'],
    'src/cluster is the protocol-neutral control plane: server, http and cli import it, never the reverse'),
  layer(['src/client/**'], ['**/broker/**', '**/store/**', '**/server/**', '**/http/**', '**/cli/**', '**/util/**'],
    'src/client holds Wharf\'s AMQP and Kafka clients, on src/protocol (amqp, kafka) only'),
  layer(['src/server/**', 'src/http/**', 'src/util/**', 'src/index.ts'], ['**/client/**'],
    'only the CLI, benchmarks and tests use src/client'),
  // A cluster's node-to-node links (docs/cluster.md, "Forwarding") are Wharf's own AMQP client.
  layer(['src/server/amqp/cluster-links.ts', 'src/server/amqp/remote-relay.ts', 'src/server/amqp/channel.ts'], ['**/client/kafka/**', '**/http/**', '**/cli/**'],
    'the AMQP adapter uses only the AMQP client, for its cluster links'),
);
