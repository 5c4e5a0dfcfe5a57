/**
 * `struct mmsghdr` arrays in native memory for sendmmsg/recvmmsg. A koffi call costs ~250 ns, so
 * batching is where socket throughput comes from; and building the headers per call from JS would
 * cost more than the calls saved. So each array is allocated and wired once per channel: slot i's
 * msghdr points at iovec i, which points at message buffer i (and at address buffer i, for senders'
 * addresses). A receiving batch's messages are decoded from that memory through one ArrayBuffer
 * view, and it may give each slot a control buffer for the sender's SCM_CREDENTIALS (sockets with
 * SO_PASSCRED). A sending batch has no message buffers: per call its iovecs are pointed at the
 * records where they were encoded (`gather`), and the kernel copies them from there.
 */
import { libc } from '../native/index.js';

// The field offsets of struct msghdr, mmsghdr and iovec are the ABI's: they live in native/libc.ts
// beside the struct sizes.
const { MSGHDR_NAME, MSGHDR_NAMELEN, MSGHDR_IOV, MSGHDR_IOVLEN, MSGHDR_CONTROL, MSGHDR_CONTROLLEN, MSGHDR_FLAGS } =
  libc;
const { MMSGHDR_LEN, IOVEC_LEN } = libc;

/** `slots` message buffers of `messageSize` bytes each, wired into an mmsghdr array. */
export class MmsgBatch {
  /** How many messages one call can carry. */
  readonly slots: number;
  /** Bytes between two message buffers (the message size rounded up to 8). */
  readonly stride: number;
  /** The message buffers, slot i at `i * stride`. */
  readonly data: Uint8Array;
  /** The sender address buffers (recvmmsg), slot i at `i * addressSize`. */
  readonly addresses: Uint8Array | undefined;
  readonly #addressSize: number;
  /** Bytes of each slot's control buffer (0: none; CMSG_UCRED_SPACE for credentials). */
  readonly #controlSize: number;
  #controls: DataView | undefined;
  #pointer: bigint;
  #headers: DataView;

  /**
   * `addressSize` > 0 reserves a sender-address buffer per slot (for unconnected receivers);
   * `credentials` a control buffer per slot for the sender's SCM_CREDENTIALS. `buffers` false
   * reserves no message buffers: a sending batch whose slots `gather` records from where they are.
   */
  constructor(slots: number, messageSize: number, addressSize = 0, credentials = false, buffers = true) {
    this.slots = slots;
    this.stride = Math.ceil(messageSize / 8) * 8;
    this.#addressSize = Math.ceil(addressSize / 8) * 8;
    this.#controlSize = credentials ? libc.CMSG_UCRED_SPACE : 0;
    const headerBytes = slots * (libc.MMSGHDR_SIZE + libc.IOVEC_SIZE);
    const dataBytes = buffers ? slots * this.stride : 0;
    const total = headerBytes + slots * (this.#addressSize + this.#controlSize) + dataBytes;
    this.#pointer = libc.allocNative(total);
    const memory = libc.viewNative(this.#pointer, total);
    this.#headers = new DataView(memory, 0, headerBytes);
    const addressStart = headerBytes;
    const controlStart = addressStart + slots * this.#addressSize;
    const dataStart = controlStart + slots * this.#controlSize;
    this.addresses = addressSize > 0 ? new Uint8Array(memory, addressStart, slots * this.#addressSize) : undefined;
    if (credentials) this.#controls = new DataView(memory, controlStart, slots * this.#controlSize);
    this.data = new Uint8Array(memory, dataStart, dataBytes);
    const base = this.#pointer;
    const iovStart = slots * libc.MMSGHDR_SIZE;
    for (let i = 0; i < slots; i++) {
      const header = i * libc.MMSGHDR_SIZE;
      const iov = iovStart + i * libc.IOVEC_SIZE;
      if (addressSize > 0) {
        this.#headers.setBigUint64(header + MSGHDR_NAME, base + BigInt(addressStart + i * this.#addressSize), true);
      }
      if (credentials) {
        this.#headers.setBigUint64(header + MSGHDR_CONTROL, base + BigInt(controlStart + i * this.#controlSize), true);
      }
      this.#headers.setBigUint64(header + MSGHDR_IOV, base + BigInt(iov), true);
      this.#headers.setBigUint64(header + MSGHDR_IOVLEN, 1n, true);
      if (buffers) this.#headers.setBigUint64(iov, base + BigInt(dataStart + i * this.stride), true);
      this.#headers.setBigUint64(iov + IOVEC_LEN, BigInt(messageSize), true);
    }
  }

  /** Native address of slot `index`'s mmsghdr, for sendmmsg/recvmmsg. */
  headerAddress(index: number): bigint {
    return this.#pointer + BigInt(index * libc.MMSGHDR_SIZE);
  }

  /**
   * Points slot `index` at `length` bytes at native `address` (from libc.addressOf), for sendmmsg to
   * gather a record from where it was encoded. Two 32-bit halves: no BigInt per record.
   */
  gather(index: number, address: number, length: number): void {
    const iov = libc.MMSGHDR_SIZE * this.slots + index * libc.IOVEC_SIZE;
    const headers = this.#headers;
    headers.setUint32(iov, address >>> 0, true);
    headers.setUint32(iov + 4, Math.floor(address / 0x1_0000_0000), true);
    headers.setUint32(iov + IOVEC_LEN, length, true);
  }

  /** Before recvmmsg: tells the kernel how much room the first `count` address and control buffers have. */
  prepareReceive(count: number): void {
    const headers = this.#headers;
    if (this.#addressSize > 0) {
      for (let i = 0; i < count; i++)
        headers.setUint32(i * libc.MMSGHDR_SIZE + MSGHDR_NAMELEN, this.#addressSize, true);
    }
    if (this.#controlSize > 0) {
      const size = BigInt(this.#controlSize);
      for (let i = 0; i < count; i++) headers.setBigUint64(i * libc.MMSGHDR_SIZE + MSGHDR_CONTROLLEN, size, true);
    }
  }

  /**
   * After recvmmsg: the SCM_CREDENTIALS the kernel attached to slot `index` (pid, uid, gid), or
   * undefined when the slot has none. On a socket with SO_PASSCRED the kernel attaches them to every
   * message it delivers (net/core/scm.c, scm_recv), so a slot without them is no message at all: the
   * end of a seqpacket connection, which recvmsg also reports as 0 bytes.
   */
  credentials(index: number): { pid: number; uid: number; gid: number } | undefined {
    const controls = this.#controls;
    if (controls === undefined) return undefined;
    const length = Number(this.#headers.getBigUint64(index * libc.MMSGHDR_SIZE + MSGHDR_CONTROLLEN, true));
    if (length < libc.CMSGHDR_SIZE + libc.UCRED_SIZE) return undefined;
    const at = index * this.#controlSize;
    if (
      controls.getInt32(at + 8, true) !== libc.SOL_SOCKET ||
      controls.getInt32(at + 12, true) !== libc.SCM_CREDENTIALS
    ) {
      return undefined;
    }
    const data = at + libc.CMSGHDR_SIZE;
    return {
      pid: controls.getInt32(data, true),
      uid: controls.getUint32(data + 4, true),
      gid: controls.getUint32(data + 8, true),
    };
  }

  /** After recvmmsg: the received length of slot `index` (the real length, with MSG_TRUNC). */
  receivedLength(index: number): number {
    return this.#headers.getUint32(index * libc.MMSGHDR_SIZE + MMSGHDR_LEN, true);
  }

  /** After recvmmsg: msg_flags of slot `index` (MSG_TRUNC when the datagram did not fit). */
  receivedFlags(index: number): number {
    return this.#headers.getInt32(index * libc.MMSGHDR_SIZE + MSGHDR_FLAGS, true);
  }

  /** After recvmmsg: the sender address of slot `index` and its length. */
  sender(index: number): [Uint8Array, number] | undefined {
    if (this.addresses === undefined) return undefined;
    const length = this.#headers.getUint32(index * libc.MMSGHDR_SIZE + MSGHDR_NAMELEN, true);
    return [this.addresses.subarray(index * this.#addressSize, (index + 1) * this.#addressSize), length];
  }

  /** Frees the native memory; the views must not be used afterwards. */
  free(): void {
    if (this.#pointer === 0n) return;
    libc.free(this.#pointer);
    this.#pointer = 0n;
  }
}
