/**
 * The typed-ipc demo: declare the measurement sample, encode one, and show its bytes, its layout
 * table and the C header for the same struct. `npm run demo` shows it first; `node --import tsx examples/schema-demo.ts` alone.
 */

import { Sample } from '../schemas/index.js';
import { cHeader, type Infer, typeName } from '../src/index.js';

const sample: Infer<typeof Sample> = { channel: 3, timestamp: 1_700_000_000_123_456_789n, value: 21.5 };
const bytes = Sample.encode(sample);

console.log('# typed-ipc demo: the measurement sample\n');
console.log("const Sample = struct('sample', { channel: u16, timestamp: u64, value: f64 });\n");
console.log('value:', sample, '\n');

console.log(`## ${bytes.length} bytes, as a C compiler lays out struct sample on x86_64\n`);
for (let row = 0; row < bytes.length; row += 8) {
  const cells = Array.from(bytes.subarray(row, row + 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  const field = Sample.fields.find((f) => row >= f.offset && row < f.offset + f.size);
  const note =
    field === undefined ? '' : field.size < 8 ? `${field.name} (${field.size} bytes), then padding` : field.name;
  console.log(`  ${row.toString().padStart(2)}: ${cells}   ${note}`);
}

console.log('\n## layout\n');
console.log('| field | offset | size | align | type |');
console.log('| --- | ---: | ---: | ---: | --- |');
for (const field of Sample.fields) {
  console.log(`| ${field.name} | ${field.offset} | ${field.size} | ${field.align} | ${typeName(field.type)} |`);
}
console.log(`\nsizeof ${Sample.size}, _Alignof ${Sample.align}, fingerprint ${Sample.fingerprint}`);
console.log('decoded back:', Sample.decode(bytes));

console.log('\n## C header (cHeader(Sample))\n');
console.log(cHeader(Sample));
