/**
 * A lexical pass before the tree-sitter parse: GNU spellings that the C grammar does not know are
 * rewritten in place, column for column (so every position the parser reports is still the source's),
 * the way a preprocessor would map them: `__signed__` is `signed`, and so on. Two forms the grammar
 * cannot parse are lifted out and handed over beside the tree: `enum __attribute__((packed)) e {`
 * and the C23 fixed underlying type `enum e : unsigned char {`.
 */

/** GNU alternate keywords and their standard spelling (never longer than the original). */
const aliases: ReadonlyMap<string, string> = new Map([
  ['__signed__', 'signed'],
  ['__signed', 'signed'],
  ['__const__', 'const'],
  ['__const', 'const'],
  ['__volatile__', 'volatile'],
  ['__volatile', 'volatile'],
  ['__inline__', 'inline'],
  ['__inline', 'inline'],
  ['__restrict__', 'restrict'],
  ['__restrict', 'restrict'],
  ['__alignof__', '_Alignof'],
  ['__alignof', '_Alignof'],
  ['__typeof__', 'typeof'],
  ['__typeof', 'typeof'],
]);

/** What the lexical pass lifted out of one `enum` specifier, keyed by the offset of its `enum` keyword. */
export interface EnumExtras {
  /** `__attribute__((packed))` stood between `enum` and the tag. */
  packed: boolean;
  /** The C23 fixed underlying type, as written (`unsigned char`, `uint8_t`). */
  underlying?: string;
}

/** The rewritten source and what was lifted out of it. */
export interface Normalised {
  readonly text: string;
  readonly enums: ReadonlyMap<number, EnumExtras>;
  /** `union __attribute__((...)) tag {`: the attribute text, keyed by the offset of `union`. */
  readonly unions: ReadonlyMap<number, string>;
}

interface Token {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** Identifiers and single punctuation characters, skipping comments, strings and character constants. */
function* tokens(source: string): Generator<Token> {
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i]!;
    if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === '/' && source[i + 1] === '/') {
      const end = source.indexOf('\n', i);
      i = end < 0 ? n : end;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(source[j]!)) j++;
      yield { text: source.slice(i, j), start: i, end: j };
      i = j;
    } else if (/\s/.test(c)) {
      i++;
    } else {
      yield { text: c, start: i, end: i + 1 };
      i++;
    }
  }
}

/** Rewrites GNU spellings column for column and lifts enum attributes and fixed underlying types out. */
export function normalise(source: string): Normalised {
  const chars = source.split('');
  const blank = (start: number, end: number): void => {
    for (let k = start; k < end; k++) if (chars[k] !== '\n') chars[k] = ' ';
  };
  const enums = new Map<number, EnumExtras>();
  const unions = new Map<number, string>();
  const list = [...tokens(source)];
  /** Blanks the `__attribute__((...))` groups at token `u`; returns the token after them and their tokens. */
  const lift = (u: number): { next: number; start: number; end: number; words: string[] } => {
    const words: string[] = [];
    let next = u;
    const start = list[u]?.start ?? 0;
    let end = start;
    while (list[next]?.text === '__attribute__' || list[next]?.text === '__attribute') {
      const open = next + 1;
      if (list[open]?.text !== '(') break;
      let depth = 0;
      let close = open;
      for (; close < list.length; close++) {
        if (list[close]!.text === '(') depth++;
        else if (list[close]!.text === ')' && --depth === 0) break;
      }
      if (close >= list.length) break;
      for (let k = open; k < close; k++) words.push(list[k]!.text);
      end = list[close]!.end;
      next = close + 1;
    }
    return { next, start, end, words };
  };
  for (let t = 0; t < list.length; t++) {
    const token = list[t]!;
    const alias = aliases.get(token.text);
    if (alias !== undefined) {
      for (let k = 0; k < token.text.length; k++) chars[token.start + k] = alias[k] ?? ' ';
      continue;
    }
    if (token.text === 'union') {
      // The grammar takes attributes after `struct` but not after `union`: lift them out, columns kept.
      const lifted = lift(t + 1);
      if (lifted.next > t + 1) {
        unions.set(token.start, source.slice(lifted.start, lifted.end));
        blank(lifted.start, lifted.end);
      }
      continue;
    }
    if (token.text !== 'enum') continue;
    const extras: EnumExtras = { packed: false };
    // enum __attribute__((...)) tag {
    const lifted = lift(t + 1);
    const u = lifted.next;
    if (u > t + 1) {
      extras.packed = lifted.words.some((word) => /^_*packed_*$/.test(word));
      blank(lifted.start, lifted.end);
    }
    // enum tag : type words {  (or an anonymous `enum : type words {`)
    const colon = list[u]?.text === ':' ? u : /^[A-Za-z_]/.test(list[u]?.text ?? '') ? u + 1 : -1;
    if (colon >= 0 && list[colon]?.text === ':') {
      let w = colon + 1;
      const words: string[] = [];
      while (/^[A-Za-z_]/.test(list[w]?.text ?? '')) words.push(list[w++]!.text);
      if (words.length > 0 && list[w]?.text === '{') {
        extras.underlying = words.join(' ');
        blank(list[colon]!.start, list[w - 1]!.end);
      }
    }
    if (extras.packed || extras.underlying !== undefined) enums.set(token.start, extras);
  }
  return { text: chars.join(''), enums, unions };
}
