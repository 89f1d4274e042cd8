// Benchmarks honker's native engine (the published Node binding) with the
// same workloads as bench/enqueue.py and bench/claim.py.
// usage: node honker_node.js <path-to-.node> <scratch-dir> <jobs> <cycles>
"use strict";
const path = require("path");
const h = require(process.argv[2]);
const dir = process.argv[3];
const jobs = Number(process.argv[4]);
const cycles = Number(process.argv[5]);
const payload = JSON.stringify({ to: "alice@example.com", template: "welcome", n: 1 });
let seq = 0;
const fresh = () => h.open(path.join(dir, `n${seq++}.db`));
const now = () => Number(process.hrtime.bigint()) / 1e9;
const best = (n, fn) => {
  let t = Infinity;
  for (let i = 0; i < 3; i++) { const t0 = now(); fn(); t = Math.min(t, now() - t0); }
  return n / t;
};
const ENQ = "SELECT honker_enqueue(?, ?, NULL, NULL, 0, 3, NULL) AS id";
const out = {};

{ const db = fresh();
  out["enqueue, 1 job per transaction"] = best(jobs, () => {
    for (let i = 0; i < jobs; i++) { const tx = db.transaction(); tx.query(ENQ, ["q", payload]); tx.commit(); }
  }); db.close(); }
{ const db = fresh();
  out["enqueue, 1000 jobs per transaction"] = best(jobs * 10, () => {
    for (let b = 0; b < jobs * 10 / 1000; b++) {
      const tx = db.transaction();
      for (let i = 0; i < 1000; i++) tx.query(ENQ, ["q", payload]);
      tx.commit();
    }
  }); db.close(); }

for (const batch of [1, 32]) {
  const n = batch === 1 ? cycles : Math.max(50, Math.floor(cycles / 16));
  for (const depth of [1000, 100000]) {
    const db = fresh();
    let tx = db.transaction();
    for (let i = 0; i < depth + n * batch * 4; i++) tx.query(ENQ, ["q", `{"n": ${i}}`]);
    tx.commit();
    out[`claim ${batch} + ack ${batch}, depth ${depth.toLocaleString("en-US")}`] = best(n * batch, () => {
      for (let c = 0; c < n; c++) {
        let t = db.transaction();
        const rows = JSON.parse(t.query("SELECT honker_claim_batch('q', 'w', ?, 300) AS r", [batch])[0].r);
        t.commit();
        t = db.transaction();
        if (batch === 1) t.query("SELECT honker_ack(?, 'w') AS r", [rows[0].id]);
        else t.query("SELECT honker_ack_batch(?, 'w') AS r", [JSON.stringify(rows.map((r) => r.id))]);
        t.commit();
      }
    });
    db.close();
  }
}
console.log(JSON.stringify(out));
