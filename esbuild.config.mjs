// One bundle per handler plus the runtime, in dist/. The DuckDB native module stays external
// (it loads a platform .node file); everything else is bundled.
import { build } from 'esbuild';
import { writeSqlModule } from './sql/build.mjs';

writeSqlModule();

const handlers = ['ingest', 'drain', 'retry', 'metrics', 'status', 'admin', 'replay', 'sql', 'sources'];

await build({
  entryPoints: {
    runtime: 'runtime/main.ts',
    // The duckhook admin command (package.json "bin"); it only talks HTTP to a running gateway.
    cli: 'runtime/cli.ts',
    ...Object.fromEntries(handlers.map((h) => [`handlers/${h}`, `handlers/${h}.ts`])),
    bench: 'bench/index.ts',
  },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  external: ['@duckdb/node-api', '@duckdb/node-bindings*', 'autocannon'],
  // Some bundled CommonJS dependencies call require() for Node built-ins.
  banner: { js: "import { createRequire as __duckhookRequire } from 'node:module'; const require = __duckhookRequire(import.meta.url);" },
  logLevel: 'warning',
});
