/* skyfence map: checking log entries in the browser.

   For each entry: SHA-256(0x00 || its exact text) must be its leaf hash; the inclusion proof
   (RFC 9162 section 2.1.3.2) must lead from that leaf to the checkpoint's root; and the
   checkpoint's Ed25519 signature must verify with the log's public key over its C2SP note text
   "{origin}\n{size}\n{base64 root}\n" (or, for a checkpoint signed before the log had an
   origin, "skyfence transparency log checkpoint v1\n{size}\n{root}\n{time}\n{key_id}\n"),
   the key id being the first 16 hex digits of SHA-256 of the raw key. Ed25519 comes from WebCrypto;
   a browser without it gets "checked by the server" instead of a browser verdict. */
(function (global) {
  "use strict";
  var subtle = global.crypto && global.crypto.subtle;

  function hexToBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }
  function bytesToHex(bytes) {
    return Array.prototype.map.call(new Uint8Array(bytes), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  function concat(parts) {
    var n = parts.reduce(function (a, p) { return a + p.length; }, 0);
    var out = new Uint8Array(n), k = 0;
    parts.forEach(function (p) { out.set(p, k); k += p.length; });
    return out;
  }
  async function sha256(bytes) { return new Uint8Array(await subtle.digest("SHA-256", bytes)); }
  async function leafHash(text) {
    return sha256(concat([new Uint8Array([0]), new TextEncoder().encode(text)]));
  }
  async function nodeHash(left, right) { return sha256(concat([new Uint8Array([1]), left, right])); }

  /* RFC 9162 2.1.3.2: the root an inclusion proof leads to, or null. */
  async function rootFromProof(leaf, index, size, path) {
    if (index < 0 || index >= size) return null;
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < path.length; i++) {
      var p = hexToBytes(path[i]);
      if (sn === 0) return null;
      if ((fn & 1) || fn === sn) {
        r = await nodeHash(p, r);
        if (!(fn & 1)) { while (fn !== 0 && !(fn & 1)) { fn >>= 1; sn >>= 1; } }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1; sn >>= 1;
    }
    return sn === 0 ? r : null;
  }

  function pemToDer(pem) {
    var b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function b64ToBytes(b64) {
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  /* {ok: true|false|null, how: "browser"|"server", detail} for a checkpoint. */
  async function verifyCheckpoint(cp, pem) {
    var der = pemToDer(pem);
    var raw = der.slice(der.length - 32);
    var keyId = bytesToHex(await sha256(raw)).slice(0, 16);
    if (keyId !== cp.key_id) {
      return { ok: false, how: "browser", detail: "checkpoint key " + cp.key_id + " is not the published key " + keyId };
    }
    var key;
    try {
      key = await subtle.importKey("spki", der, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      return { ok: null, how: "server", detail: "this browser has no Ed25519; the signature was checked by the server" };
    }
    var text;
    if (cp.origin) { // a C2SP checkpoint note: origin, size, base64 root (c2sp.org/tlog-checkpoint)
      text = cp.origin + "\n" + cp.tree_size + "\n" + btoa(String.fromCharCode.apply(null, hexToBytes(cp.root_hash))) + "\n";
      if (cp.note && cp.note.indexOf(text) !== 0) {
        return { ok: false, how: "browser", detail: "the checkpoint's note does not state its size and root" };
      }
    } else { // signed before the log had an origin
      text = "skyfence transparency log checkpoint v1\n" + cp.tree_size + "\n" + cp.root_hash + "\n" + cp.time + "\n" + cp.key_id + "\n";
    }
    var msg = new TextEncoder().encode(text);
    var ok = await subtle.verify({ name: "Ed25519" }, key, b64ToBytes(cp.signature), msg);
    return { ok: ok, how: "browser", detail: ok ? "signature verified in this browser (Ed25519)" : "BAD signature" };
  }

  /* {ok, detail} for one history entry against the checkpoint. */
  async function verifyEntry(entry, cp) {
    var leaf = await leafHash(entry.text);
    if (bytesToHex(leaf) !== entry.leaf_hash) return { ok: false, detail: "entry text does not hash to its leaf" };
    var root = await rootFromProof(leaf, entry.index, cp.tree_size, entry.path);
    if (root === null) return { ok: false, detail: "malformed inclusion proof" };
    if (bytesToHex(root) !== cp.root_hash) return { ok: false, detail: "proof does not lead to the checkpoint's root" };
    return { ok: true, detail: "included in the signed tree of " + cp.tree_size + " entries" };
  }

  global.SkyfenceProof = {
    verifyCheckpoint: verifyCheckpoint,
    verifyEntry: verifyEntry,
    leafHash: leafHash,
    rootFromProof: rootFromProof,
    hex: bytesToHex
  };
})(window);
