/**
 * Aligned text tables. `Table` renders a complete set of rows; `LiveTable` prints rows as they arrive
 * (for `tail`), with column widths guessed from the schema and widened when a value needs more room.
 */

/** A column: its header, whether values are right-aligned (numbers), and a starting width. */
export interface Column {
  readonly header: string;
  readonly right?: boolean;
  readonly width?: number;
  /** Cut this column's cells (with `…`) when the table would be wider than `renderTable`'s `maxWidth`. */
  readonly shrink?: boolean;
}

function pad(text: string, width: number, right: boolean | undefined): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function line(cells: readonly string[], columns: readonly Column[], widths: readonly number[]): string {
  return cells
    .map((cell, i) => pad(cell, widths[i]!, columns[i]?.right))
    .join('  ')
    .trimEnd();
}

/** Renders rows under a header, every column as wide as its widest cell (shrinkable ones cut to fit `maxWidth`). */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  maxWidth = Number.POSITIVE_INFINITY,
): string {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => row[i]?.length ?? 0)));
  let excess = widths.reduce((sum, w) => sum + w, 0) + 2 * (columns.length - 1) - maxWidth;
  columns.forEach((column, i) => {
    if (excess <= 0 || column.shrink !== true) return;
    const cut = Math.min(excess, widths[i]! - column.header.length);
    widths[i]! -= cut;
    excess -= cut;
  });
  if (columns.some((c) => c.shrink === true)) {
    rows = rows.map((row) =>
      row.map((cell, i) => (cell.length > widths[i]! ? `${cell.slice(0, widths[i]! - 1)}…` : cell)),
    );
  }
  const header = line(
    columns.map((c) => c.header),
    columns,
    widths,
  );
  return [header, ...rows.map((row) => line(row, columns, widths))].join('\n');
}

/** A table printed row by row; a cell wider than its column widens the column for later rows. */
export class LiveTable {
  readonly #columns: readonly Column[];
  readonly #widths: number[];

  constructor(columns: readonly Column[]) {
    this.#columns = columns;
    this.#widths = columns.map((column) => Math.max(column.header.length, column.width ?? 0));
  }

  /** The header line. */
  header(): string {
    return line(
      this.#columns.map((c) => c.header),
      this.#columns,
      this.#widths,
    );
  }

  /** One row, aligned to the current widths. */
  row(cells: readonly string[]): string {
    cells.forEach((cell, i) => {
      if (cell.length > this.#widths[i]!) this.#widths[i] = cell.length;
    });
    return line(cells, this.#columns, this.#widths);
  }
}
