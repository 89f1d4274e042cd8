#!/usr/bin/env node
// Drives honker's own engine (the published native Node binding) for the
// interop tests in this folder. The Python tests talk to one long-lived
// `node honker_driver.js <path/to/honker.linux-x64-gnu.node>` child.
//
// Protocol: one JSON request per line on stdin, one JSON response per line on
// stdout, strictly in request order.
//
//   request   {"id": <any>, "op": <name>, ...arguments}
//   response  {"id": <same>, "ok": true, "result": <value>}
//          or {"id": <same>, "ok": false, "error": <e.message>, ...}
//
// Ops (databases are keyed by their path; `db` opens it on first use):
//   version                       -> {node, binding, sqlite}
//   open      {db}                -> null (honker's open(path): schema + PRAGMAs)
//   close     {db}                -> null
//   closeAll                      -> number of databases closed
//   tx        {db, steps, rollback?}
//       One honker transaction (BEGIN IMMEDIATE ... COMMIT). Each step is
//         {"q": sql, "p": params}      tx.query   -> array of row objects
//         {"x": sql, "p": params}      tx.execute -> rows changed
//         {"notify": [channel, value]} tx.notify  -> notification id
//       result: array of step results. On a failing step the transaction is
//       rolled back and the response is {ok:false, error, step: <index>}.
//       rollback:true rolls back instead of committing (results still returned).
//   txs       {db, txs: [steps, ...]}
//       Many `tx` in a row, never stopping: result is an array of
//       {"ok":true,"result":[...]} / {"ok":false,"error":..,"step":i}.
//   query     {db, sql, params}   -> db.query (a reader connection; no honker_* functions)
//   prune     {db, args: [...]}   -> db.pruneNotifications(...args)
//   subscribe {db}                -> subscription id (db.updateEvents())
//   wait      {sub, timeoutMs}    -> true if an update event arrived, false on timeout
//   unsubscribe {sub}             -> null
//   exit                          -> null, then the process exits
//
// Values cross as JSON, so integers beyond 2^53 lose precision on the way
// back (and the binding cannot bind BigInt or Buffer parameters at all): tests
// that care select `quote(x)` / `typeof(x)` and put big literals in the SQL.
'use strict';

const path = require('path');
const readline = require('readline');

const bindingPath = process.argv[2];
if (!bindingPath) {
  process.stderr.write('usage: node honker_driver.js <honker.linux-x64-gnu.node>\n');
  process.exit(2);
}
const honker = require(path.resolve(bindingPath));
let bindingVersion = null;
try {
  bindingVersion = require(path.join(path.dirname(path.resolve(bindingPath)), 'package.json')).version;
} catch (_) { /* version unknown */ }

const dbs = new Map();   // path -> Database
const subs = new Map();  // id -> {events, pending: Promise|null}
let nextSub = 1;

function getDb(p) {
  let db = dbs.get(p);
  if (!db) {
    db = honker.open(p);
    dbs.set(p, db);
  }
  return db;
}

function runTx(db, steps, rollback) {
  const tx = db.transaction();
  const results = [];
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    try {
      if (s.q !== undefined) results.push(tx.query(s.q, s.p || []));
      else if (s.x !== undefined) results.push(tx.execute(s.x, s.p || []));
      else if (s.notify !== undefined) results.push(tx.notify(s.notify[0], s.notify[1]));
      else throw new Error('unknown step ' + JSON.stringify(s));
    } catch (e) {
      tx.rollback();
      return { ok: false, error: e.message, step: i };
    }
  }
  if (rollback) tx.rollback(); else tx.commit();
  return { ok: true, result: results };
}

async function waitFor(sub, timeoutMs) {
  if (!sub.pending) {
    sub.pending = sub.events.next();
    sub.pending.catch(() => {}); // a close() while waiting must not crash the driver
  }
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); });
  const woke = await Promise.race([sub.pending.then(() => true), timeout]);
  clearTimeout(timer);
  if (woke) sub.pending = null;
  return woke;
}

async function handle(req) {
  switch (req.op) {
    case 'version': {
      const db = honker.open(':memory:');
      const v = db.query('SELECT sqlite_version() AS v')[0].v;
      db.close();
      return { node: process.version, binding: bindingVersion, sqlite: v };
    }
    case 'open': getDb(req.db); return null;
    case 'close': {
      const db = dbs.get(req.db);
      if (db) { db.close(); dbs.delete(req.db); }
      return null;
    }
    case 'closeAll': {
      for (const s of subs.values()) s.events.close();
      subs.clear();
      const n = dbs.size;
      for (const db of dbs.values()) db.close();
      dbs.clear();
      return n;
    }
    case 'tx': return runTx(getDb(req.db), req.steps, !!req.rollback);
    case 'txs': {
      const db = getDb(req.db);
      return { ok: true, result: req.txs.map((steps) => runTx(db, steps, false)) };
    }
    case 'query': return getDb(req.db).query(req.sql, req.params || []);
    case 'prune': return getDb(req.db).pruneNotifications(...(req.args || []));
    case 'subscribe': {
      const id = nextSub++;
      subs.set(id, { events: getDb(req.db).updateEvents(), pending: null });
      return id;
    }
    case 'wait': return waitFor(subs.get(req.sub), req.timeoutMs);
    case 'unsubscribe': {
      const s = subs.get(req.sub);
      if (s) { s.events.close(); subs.delete(req.sub); }
      return null;
    }
    case 'exit': return null;
    default: throw new Error('unknown op ' + req.op);
  }
}

function send(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

const rl = readline.createInterface({ input: process.stdin, terminal: false });
let chain = Promise.resolve();
rl.on('line', (line) => {
  if (!line.trim()) return;
  chain = chain.then(async () => {
    let req;
    try { req = JSON.parse(line); } catch (e) { send({ id: null, ok: false, error: 'bad JSON: ' + e.message }); return; }
    try {
      const out = await handle(req);
      // `tx`/`txs` already carry their own ok/error envelope.
      if ((req.op === 'tx' || req.op === 'txs') && out && typeof out.ok === 'boolean') send({ id: req.id, ...out });
      else send({ id: req.id, ok: true, result: out === undefined ? null : out });
    } catch (e) {
      send({ id: req.id, ok: false, error: e && e.message !== undefined ? e.message : String(e) });
    }
    if (req.op === 'exit') { for (const db of dbs.values()) db.close(); process.exit(0); }
  });
});
rl.on('close', () => { chain.then(() => { for (const db of dbs.values()) db.close(); process.exit(0); }); });
