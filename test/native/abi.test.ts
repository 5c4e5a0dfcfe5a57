/**
 * The native layer's numbers are x86_64 glibc's ABI written down by hand: flags, struct sizes and
 * field offsets (libc.ts), errno values (errors.ts, sysvmsg.ts). A wrong one is silent (a misread
 * msqid_ds field, a flag the kernel reads as another), so this test compiles a C program with `cc`
 * against the system headers that prints every one of them, and compares. Every numeric export is
 * checked: one named like its C macro needs nothing here; a size or an offset names its C
 * expression below, and an export with neither fails to compile, so a new constant cannot go unchecked.
 */
import { describe, expect, it } from 'vitest';
import * as errnos from '../../src/native/errors.js';
import * as libc from '../../src/native/libc.js';
import * as sysvmsg from '../../src/native/sysvmsg.js';
import { cFigures } from '../helpers.js';

/** The C expression of an export whose name is not its C macro's. */
const expressions: Readonly<Record<string, string>> = {
  CMSGHDR_SIZE: 'sizeof(struct cmsghdr)',
  CMSG_UCRED_SPACE: 'CMSG_SPACE(sizeof(struct ucred))',
  IOVEC_SIZE: 'sizeof(struct iovec)',
  IOVEC_LEN: 'offsetof(struct iovec, iov_len)',
  MAP_FAILED: '(uintptr_t)MAP_FAILED',
  MMSGHDR_SIZE: 'sizeof(struct mmsghdr)',
  MMSGHDR_LEN: 'offsetof(struct mmsghdr, msg_len)',
  MQ_ATTR_LONGS: 'sizeof(struct mq_attr) / sizeof(long)',
  MSGHDR_NAME: 'offsetof(struct msghdr, msg_name)',
  MSGHDR_NAMELEN: 'offsetof(struct msghdr, msg_namelen)',
  MSGHDR_IOV: 'offsetof(struct msghdr, msg_iov)',
  MSGHDR_IOVLEN: 'offsetof(struct msghdr, msg_iovlen)',
  MSGHDR_CONTROL: 'offsetof(struct msghdr, msg_control)',
  MSGHDR_CONTROLLEN: 'offsetof(struct msghdr, msg_controllen)',
  MSGHDR_FLAGS: 'offsetof(struct msghdr, msg_flags)',
  MSQID_DS_SIZE: 'sizeof(struct msqid_ds)',
  MSQ_KEY: 'offsetof(struct msqid_ds, msg_perm.__key)',
  MSQ_UID: 'offsetof(struct msqid_ds, msg_perm.uid)',
  MSQ_GID: 'offsetof(struct msqid_ds, msg_perm.gid)',
  MSQ_CUID: 'offsetof(struct msqid_ds, msg_perm.cuid)',
  MSQ_CGID: 'offsetof(struct msqid_ds, msg_perm.cgid)',
  MSQ_MODE: 'offsetof(struct msqid_ds, msg_perm.mode)',
  MSQ_STIME: 'offsetof(struct msqid_ds, msg_stime)',
  MSQ_RTIME: 'offsetof(struct msqid_ds, msg_rtime)',
  MSQ_CTIME: 'offsetof(struct msqid_ds, msg_ctime)',
  MSQ_CBYTES: 'offsetof(struct msqid_ds, __msg_cbytes)',
  MSQ_QNUM: 'offsetof(struct msqid_ds, msg_qnum)',
  MSQ_QBYTES: 'offsetof(struct msqid_ds, msg_qbytes)',
  MSQ_LSPID: 'offsetof(struct msqid_ds, msg_lspid)',
  MSQ_LRPID: 'offsetof(struct msqid_ds, msg_lrpid)',
  MTYPE_SIZE: 'sizeof(long)',
  STAT_SIZE: 'sizeof(struct stat)',
  ST_MODE_OFFSET: 'offsetof(struct stat, st_mode)',
  UCRED_SIZE: 'sizeof(struct ucred)',
};

const headers = [
  '<errno.h>',
  '<fcntl.h>',
  '<limits.h>',
  '<mqueue.h>',
  '<netinet/in.h>',
  '<netinet/tcp.h>',
  '<poll.h>',
  '<stddef.h>',
  '<stdint.h>',
  '<string.h>',
  '<sys/file.h>',
  '<sys/mman.h>',
  '<sys/msg.h>',
  '<sys/resource.h>',
  '<sys/socket.h>',
  '<sys/stat.h>',
  '<sys/uio.h>',
  '<unistd.h>',
];

/** The numeric exports of a module: [name, value]. */
const numbers = (module: object): [string, bigint][] =>
  Object.entries(module)
    .filter(([, value]) => typeof value === 'number' || typeof value === 'bigint')
    .map(([name, value]) => [name, BigInt(value as number | bigint)]);

describe('the native layer against the C headers (x86_64 glibc)', () => {
  const modules = { 'libc.ts': libc, 'errors.ts': errnos, 'sysvmsg.ts': sysvmsg };
  const exported = Object.entries(modules).flatMap(([file, module]) =>
    numbers(module).map(([name, value]) => ({ file, name, value })),
  );

  it('every numeric export equals its C macro, sizeof or offsetof', () => {
    expect(exported.length).toBeGreaterThan(100);
    const figures = cFigures(
      'abi-constants',
      headers,
      exported.map(({ name }) => [name, expressions[name] ?? name]),
    );
    const mismatches = exported
      .filter(({ name, value }) => figures.get(name) !== String(BigInt.asUintN(64, value)))
      .map(({ file, name, value }) => `${file} ${name} = ${value}, C says ${figures.get(name)}`);
    expect(mismatches).toEqual([]);
  });

  it('every expression named here belongs to an export (no stale entry)', () => {
    const names = new Set(exported.map(({ name }) => name));
    expect(Object.keys(expressions).filter((name) => !names.has(name))).toEqual([]);
  });

  it("errors.ts's errno table names every Linux errno as glibc does", () => {
    // Every errno of x86_64 Linux (1..133; 41 and 58 are unassigned) has a name in the table, and that
    // name's macro is that number in <errno.h>.
    const codes = Array.from({ length: 133 }, (_, i) => i + 1).filter((n) => n !== 41 && n !== 58);
    const unnamed = codes.filter((n) => /^E\d+$/.test(errnos.errnoName(n)));
    expect(unnamed).toEqual([]);
    const figures = cFigures(
      'abi-errnos',
      headers,
      codes.map((n) => [String(n), errnos.errnoName(n)]),
    );
    const wrong = codes
      .filter((n) => figures.get(String(n)) !== String(n))
      .map((n) => `${n}: ${errnos.errnoName(n)} is ${figures.get(String(n))} in <errno.h>`);
    expect(wrong).toEqual([]);
  });
});
