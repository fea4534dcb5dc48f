/* global process, setInterval */
// A stand-in RTMP worker that reports ready and then never answers a ping: what an endless loop in a
// parser looks like from the parent (worker-host.test.ts).
process.on('message', (m) => {
  if (m.type === 'init') process.send({ type: 'ready', rtmpPort: 1, flvPort: 2 });
});
setInterval(() => undefined, 1000);
