/**
 * The native layer: koffi bindings to libc, errno → SystemError, and descriptor readiness on the
 * Node event loop. Internal: only `src/channels` imports it, and the package does not export it.
 */

export * as errnos from './errors.js';
export { check, errnoName, systemError } from './errors.js';
export * as libc from './libc.js';
export * as mqueue from './mqueue.js';
export { deadlineOf, FdWatch, type WaitOptions } from './poll.js';
export * as sockets from './socket.js';
export * as sysvmsg from './sysvmsg.js';
