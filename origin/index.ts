/** The origin's public face. */
export { OriginServer, type OriginDeps } from './origin-server.js';
export { parseMediaPath, parseDirectives, type MediaPath } from './media-path.js';
