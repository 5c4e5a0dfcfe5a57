/**
 * `npm run bench -- --app-heap`: preloaded (`node --import`) into every Node process of the run, it
 * gives the process the live heap of a modest application before it measures anything.
 *
 * Why: a bare bench peer is a Node process of 6-9 MB of old generation (the library compiled, as the
 * bench runs it by default, or from source through tsx with --source), near V8's 8 MB threshold for
 * starting incremental marking. Above it, a receiver of 4 KiB messages (a fresh 4 KiB of
 * ArrayBuffer per message) runs a mark-compact every 50-100 ms that frees nothing; below it, none.
 * So a few hundred KB more code loaded by a process, anyone's, moves its 4 KiB rows by a third,
 * and comparing two versions of the library measures which side of the line each lands on. With a
 * heap past the threshold from the start, as any application's is, both sides do the same GC work
 * and the rows measure the code. TYPED_IPC_BENCH_HEAP_OBJECTS sets the size (default 200 000 small
 * objects, about 12 MB).
 */
const objects = Number(process.env.TYPED_IPC_BENCH_HEAP_OBJECTS ?? 200_000);
globalThis.__typedIpcBenchHeap = Array.from({ length: objects }, (_, i) => ({ i, name: `object ${i}` }));
