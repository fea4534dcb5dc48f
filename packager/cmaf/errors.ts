/** Why the CMAF code refused some bytes; stable, so callers can count and alert on them. */
export type CmafErrorCode =
  | 'BOX_TRUNCATED'
  | 'BOX_INVALID'
  | 'BOX_TOO_LARGE'
  | 'UNEXPECTED_BOX'
  | 'UNSUPPORTED_TRACK'
  | 'MISSING_TFDT'
  | 'BAD_RETIME';

/** A malformed or unsupported ISO-BMFF input. The stream session turns it into an event, not a crash. */
export class CmafError extends Error {
  constructor(
    readonly code: CmafErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CmafError';
  }
}
