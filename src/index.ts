/** typed-ipc: typed, C-struct-layout messages between processes over Linux IPC. */
export * from './channels/index.js';
export * from './codecs/index.js';
export * from './errors.js';
export * from './record/index.js';
