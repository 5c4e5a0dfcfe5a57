/**
 * The architecture check, imported before koffi: the native layer's constants and struct sizes are
 * those of Linux on x86_64, and on anything else they would be wrong in ways that corrupt memory or
 * messages, so loading refuses with an error that says so (koffi itself would only say that it cannot
 * find its native module).
 */
import { UnsupportedError } from '../errors.js';

if (process.platform !== 'linux' || process.arch !== 'x64') {
  throw new UnsupportedError(
    `typed-ipc supports Linux on x86_64 only (its libc constants and struct layouts are x86_64's); this is ` +
      `${process.platform} on ${process.arch}: run it on a Linux x86_64 host or container`,
  );
}
