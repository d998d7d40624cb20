/**
 * Where a command's results go: stdout, written with backpressure so that a large scan piped into a slow
 * reader (or to a file) does not pile up in memory. Messages about the run (progress, warnings) go to stderr.
 */
export class Output {
  readonly #stream: NodeJS.WritableStream

  constructor (stream: NodeJS.WritableStream = process.stdout) {
    this.#stream = stream
  }

  /** Writes text; resolves once the stream can take more. */
  async write (text: string): Promise<void> {
    if (this.#stream.write(text)) return
    await new Promise<void>((resolve) => this.#stream.once('drain', resolve))
  }

  /** Writes each line followed by a newline. */
  async lines (lines: readonly string[]): Promise<void> {
    if (lines.length > 0) await this.write(lines.join('\n') + '\n')
  }

  /** Writes one JSON document (indented, one trailing newline): what `--json` prints. */
  async json (value: unknown): Promise<void> {
    await this.write(JSON.stringify(value, null, 2) + '\n')
  }
}

/**
 * One JSON document whose array member is written item by item (a scan of any length prints in constant
 * memory): `{ ...head, "<arrayName>": [ items ], ...tail }`.
 */
export class JsonArrayDocument {
  readonly #out: Output
  #items = 0

  private constructor (out: Output) {
    this.#out = out
  }

  /** Writes the opening of the document: head's members, then the array's opening bracket. */
  static async open (out: Output, head: Record<string, unknown>, arrayName: string): Promise<JsonArrayDocument> {
    const start = JSON.stringify(head)
    await out.write(`${start.slice(0, -1)}${start === '{}' ? '' : ','}${JSON.stringify(arrayName)}:[`)
    return new JsonArrayDocument(out)
  }

  async item (value: unknown): Promise<void> {
    await this.#out.write(`${this.#items++ === 0 ? '\n' : ',\n'}${JSON.stringify(value)}`)
  }

  /** Closes the array and the document, adding tail's members. */
  async close (tail: Record<string, unknown>): Promise<void> {
    const rest = JSON.stringify(tail)
    await this.#out.write(`${this.#items > 0 ? '\n' : ''}]${rest === '{}' ? '' : ',' + rest.slice(1, -1)}}\n`)
  }
}
