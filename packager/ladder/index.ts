/** The live/VOD transcoding ladder: FFmpeg argv builder, process, supervisor and source probe. */
export {
  ffmpegLadderArgs,
  fitLadder,
  outputFps,
  fpsRational,
  scaledWidth,
  redactLadderArgs,
  FIRST_OUTPUT_FD,
  type LadderArgs,
  type LadderArgsOptions,
  type LadderInput,
  type LadderOutput,
  type LadderSourceInfo,
} from './ffmpeg-ladder-args.js';
export { LadderProcess, ProgressParser, type LadderExit, type LadderProcessConfig, type LadderProcessEvents, type LadderProgress } from './ffmpeg-ladder-process.js';
export { LadderSupervisor, type LadderSupervisorConfig, type LadderSupervisorEvents } from './ladder-supervisor.js';
export { probeSource, sourceFps, parseRate, ProbeError, type ProbeOptions, type SourceProbe } from './ffprobe.js';
