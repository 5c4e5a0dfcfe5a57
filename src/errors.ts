/**
 * One family of errors for the whole library. Every error has a stable `code` and `name`;
 * messages say what was expected, what arrived and, where there is something to do, what to do.
 */

/** Base class of every error thrown by typed-ipc. */
export class IpcError extends Error {
  /** Stable machine-readable code (for SystemError: the errno name, e.g. `EAGAIN`). */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** A schema declaration is invalid (bad alignment, zero-length array, unsafe field name, ...). */
export class SchemaError extends IpcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IPC_SCHEMA', message, options);
  }
}

/** Where a value failed validation, what was expected and what was received. */
export interface ValidationIssue {
  /** Field path, e.g. `sample.readings[3].value`. */
  readonly path: string;
  /** What the field accepts, e.g. `u16 (0..65535)`. */
  readonly expected: string;
  /** A short rendering of the value received. */
  readonly received: string;
}

/** A value does not fit its schema; nothing was encoded or sent. */
export class ValidationError extends IpcError implements ValidationIssue {
  readonly path: string;
  readonly expected: string;
  readonly received: string;

  constructor(path: string, expected: string, received: string, options?: { cause?: unknown; message?: string }) {
    super('ERR_IPC_VALIDATION', options?.message ?? `${path}: expected ${expected}, got ${received}`, options);
    this.path = path;
    this.expected = expected;
    this.received = received;
  }
}

/** Bytes could not be decoded (short, oversized, undeclared enum value, foreign writer). */
export class DecodeError extends IpcError {
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('ERR_IPC_DECODE', path ? `${path}: ${message}` : message, options);
    this.path = path;
  }
}

/** A message is larger than the transport can carry; refused before anything was sent. */
export class MessageSizeError extends IpcError {
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number, message: string, options?: { cause?: unknown }) {
    super('ERR_IPC_MESSAGE_SIZE', message, options);
    this.size = size;
    this.limit = limit;
  }
}

/** The channel (or its peer) is closed: use after close, EOF, EPIPE. */
export class ChannelClosedError extends IpcError {
  constructor(message = 'channel is closed', options?: { cause?: unknown }) {
    super('ERR_IPC_CLOSED', message, options);
  }
}

/** An operation did not complete within its `timeoutMs`. */
export class TimeoutError extends IpcError {
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super('ERR_IPC_TIMEOUT', `${operation} timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** An operation was aborted through its AbortSignal; `cause` is the signal's reason. */
export class AbortError extends IpcError {
  constructor(operation: string, reason?: unknown) {
    super('ABORT_ERR', `${operation} was aborted`, { cause: reason });
  }
}

/** An option or argument is not supported by this transport (e.g. a priority on a byte stream). */
export class UnsupportedError extends IpcError {
  constructor(message: string) {
    super('ERR_IPC_UNSUPPORTED', message);
  }
}

/** A system call failed. `code` is the errno name; `hint` says what usually fixes it. */
export class SystemError extends IpcError {
  readonly errno: number;
  readonly syscall: string;
  /** The queue, segment or socket name or path the call was about, when there is one. */
  readonly path: string | undefined;
  readonly hint: string | undefined;

  constructor(init: {
    code: string;
    errno: number;
    syscall: string;
    path?: string | undefined;
    description: string;
    hint?: string | undefined;
    cause?: unknown;
  }) {
    const where = init.path === undefined ? '' : ` ${init.path}`;
    const hint = init.hint === undefined ? '' : `; ${init.hint}`;
    super(init.code, `${init.syscall}${where}: ${init.code} (${init.description})${hint}`, { cause: init.cause });
    this.errno = init.errno;
    this.syscall = init.syscall;
    this.path = init.path;
    this.hint = init.hint;
  }
}

/** The two ends of a connection use different schemas (their fingerprints differ); nothing was exchanged. */
export class SchemaMismatchError extends IpcError {
  /** This end's schema fingerprint. */
  readonly local: string;
  /** The peer's schema fingerprint, or undefined when the peer sent no typed-ipc identity. */
  readonly remote: string | undefined;

  constructor(message: string, local: string, remote: string | undefined) {
    super('ERR_IPC_SCHEMA_MISMATCH', message);
    this.local = local;
    this.remote = remote;
  }
}
