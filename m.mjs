import { DuckDBInstance, DuckDBTimestampValue } from '@duckdb/node-api';
import { rmSync } from 'node:fs';
for (const variant of ['json', 'varchar', 'nopayload']) {
  rmSync('/tmp/m.db', { force: true }); rmSync('/tmp/m.db.wal', { force: true });
  const db = await DuckDBInstance.create('/tmp/m.db', { checkpoint_threshold: '1GB' });
  const w = await db.connect();
  const ptype = variant === 'json' ? 'JSON' : 'VARCHAR';
  await w.run(`CREATE TABLE t (id BIGINT, ts TIMESTAMP, s VARCHAR, e VARCHAR, ip VARCHAR, ct VARCHAR, h JSON, b BLOB, p ${ptype})`);
  const a = await w.createAppender('t');
  let id = 0; const T = { begin: 0, append: 0, flush: 0, commit: 0 }; const N = 300; const B = 40;
  const hdr = JSON.stringify({ host: '127.0.0.1:8000', 'content-type': 'application/json', 'content-length': '1024', 'user-agent': 'autocannon' });
  for (let k = 0; k < N; k++) {
    let t = performance.now();
    await w.run('BEGIN'); T.begin += performance.now() - t; t = performance.now();
    for (let i = 0; i < B; i++) {
      const text = JSON.stringify({ event_type: 'order.created', id: id, pad: 'x'.repeat(900) + id });
      a.appendBigInt(BigInt(id++)); a.appendTimestamp(new DuckDBTimestampValue(1n)); a.appendVarchar('bench'); a.appendVarchar('bench/orders'); a.appendVarchar('127.0.0.1'); a.appendVarchar('application/json'); a.appendVarchar(hdr); a.appendBlob(Buffer.from(text));
      if (variant === 'nopayload') a.appendNull(); else a.appendVarchar(text);
      a.endRow();
    }
    T.append += performance.now() - t; t = performance.now();
    a.flushSync(); T.flush += performance.now() - t; t = performance.now();
    await w.run('COMMIT'); T.commit += performance.now() - t;
  }
  console.log(variant, Object.fromEntries(Object.entries(T).map(([k, v]) => [k, (v / N).toFixed(2)])));
  w.closeSync(); db.closeSync();
}
