// Seek latency of `simrec play --serve`: time from sending a seek (PlaybackControlRequest,
// client binary opcode 3) to the first message data at the new time. Real @foxglove/ws-protocol
// client over `ws`, subprotocol foxglove.sdk.v1. Prints a JSON list of latencies in ms.
//
// usage: node seek_latency.mjs ws://127.0.0.1:PORT START_NS END_NS COUNT
import wsProtocol from "@foxglove/ws-protocol";
import WebSocket from "ws";

const { FoxgloveClient } = wsProtocol;
const [url, startArg, endArg, countArg] = process.argv.slice(2);
const start = BigInt(startArg);
const span = BigInt(endArg) - start;
const ws = new WebSocket(url, ["foxglove.sdk.v1"]);
const client = new FoxgloveClient({ ws });
let pending = null;
let subscribed = 0;

function seekRequest(seek, requestId) {
  const id = Buffer.from(requestId, "utf8");
  const buf = Buffer.alloc(19 + id.length);
  let o = buf.writeUInt8(3, 0);
  o = buf.writeUInt8(1, o); // pause: the re-sent frame is the only data that comes
  o = buf.writeFloatLE(1.0, o);
  o = buf.writeUInt8(1, o);
  o = buf.writeBigUInt64LE(seek, o);
  o = buf.writeUInt32LE(id.length, o);
  id.copy(buf, o);
  return buf;
}

client.on("error", () => {}); // PlaybackState (opcode 5) is unknown to ws-protocol 0.8
client.on("advertise", (channels) => {
  for (const ch of channels) client.subscribe(ch.id);
  subscribed += channels.length;
});
client.on("message", () => {
  if (pending) {
    const done = pending;
    pending = null;
    done(performance.now());
  }
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  await new Promise((resolve) => client.on("open", resolve));
  while (subscribed === 0) await sleep(20);
  await sleep(300);
  const latencies = [];
  for (let i = 0; i < Number(countArg); i++) {
    const seek = start + (span * BigInt(Math.floor(Math.random() * 1000))) / 1000n;
    const arrived = new Promise((resolve) => (pending = resolve));
    const t0 = performance.now();
    ws.send(seekRequest(seek, `seek-${i}`));
    const timeout = sleep(5000).then(() => null);
    const t1 = await Promise.race([arrived, timeout]);
    latencies.push(t1 === null ? null : t1 - t0);
    await sleep(50);
  }
  process.stdout.write(JSON.stringify(latencies));
  process.exit(0);
}
main();
