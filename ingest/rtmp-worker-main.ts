/** Entry point of the forked RTMP worker process; see rtmp-worker.ts. */
import { runRtmpWorkerProcess } from './rtmp-worker.js';

runRtmpWorkerProcess();
