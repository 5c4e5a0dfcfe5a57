import { unlink } from '../src/index.js';
await unlink(`mq:/${'a'.repeat(255)}`).then(() => console.log('unlinked'), (e) => console.log(String(e)));
