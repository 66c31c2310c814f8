// Docker's `filters` query parameter is decoded by Go's encoding/json; its clients (and scripts that
// grep for them) see Go's error texts. This checks JSON syntax the way Go's scanner does and returns
// Go's message for the first error, or undefined when the text is valid JSON. Pure.

/** Go's quoteChar: 'x', with ' and control characters escaped. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const q = JSON.stringify(c);
  return `'${q.slice(1, -1)}'`;
}

class SyntaxFail extends Error {}

/** Go's scanner over one text: each method reads one kind of token from `i` on, or throws a
 *  SyntaxFail carrying Go's message. */
class GoScanner {
  i = 0;
  constructor(readonly text: string) {}

  end(): never {
    throw new SyntaxFail('unexpected end of JSON input');
  }
  bad(context: string): never {
    throw new SyntaxFail(`invalid character ${quoteChar(this.text[this.i])} ${context}`);
  }
  /** Past the end: Go's "unexpected end of JSON input". */
  more(): void {
    if (this.i >= this.text.length) this.end();
  }
  ws(): void {
    while (this.i < this.text.length && ' \t\r\n'.includes(this.text[this.i])) this.i++;
  }
  literal(word: string): void {
    for (let k = 1; k < word.length; k++) {
      this.i++;
      this.more();
      if (this.text[this.i] !== word[k]) this.bad(`in literal ${word} (expecting ${quoteChar(word[k])})`);
    }
    this.i++;
  }
  digits(): void {
    while (this.i < this.text.length && /[0-9]/.test(this.text[this.i])) this.i++;
  }
  /** One digit required (after "-", "." or the exponent), then the rest. */
  digitsAfter(context: string): void {
    this.more();
    if (!/[0-9]/.test(this.text[this.i])) this.bad(context);
    this.digits();
  }
  number(): void {
    const t = this.text;
    if (t[this.i] === '-') {
      this.i++;
      this.more();
      if (!/[0-9]/.test(t[this.i])) this.bad('in numeric literal');
    }
    if (t[this.i] === '0') this.i++;
    else this.digits();
    if (t[this.i] === '.') {
      this.i++;
      this.digitsAfter('after decimal point in numeric literal');
    }
    if (t[this.i] === 'e' || t[this.i] === 'E') {
      this.i++;
      if (t[this.i] === '+' || t[this.i] === '-') this.i++;
      this.digitsAfter('in exponent of numeric literal');
    }
  }
  string(): void {
    this.i++;
    for (;;) {
      this.more();
      const c = this.text[this.i];
      if (c === '"') {
        this.i++;
        return;
      }
      if (c < ' ') this.bad('in string literal');
      if (c === '\\') this.escape();
      this.i++;
    }
  }
  /** After a backslash in a string: the escape code (\uXXXX or one of "\/bfnrt). */
  escape(): void {
    this.i++;
    this.more();
    if (this.text[this.i] === 'u') {
      for (let k = 0; k < 4; k++) {
        this.i++;
        this.more();
        if (!/[0-9a-fA-F]/.test(this.text[this.i])) this.bad('in \\u hexadecimal character escape');
      }
    } else if (!'"\\/bfnrt'.includes(this.text[this.i])) this.bad('in string escape code');
  }
  /** At "{" or "[": true (and past it) when the next non-space is `close`. */
  emptyComposite(close: string): boolean {
    this.i++;
    this.ws();
    this.more();
    if (this.text[this.i] !== close) return false;
    this.i++;
    return true;
  }
  /** After an element: true (and past it) at `close`; past the "," otherwise. */
  closes(close: string, context: string): boolean {
    this.ws();
    this.more();
    if (this.text[this.i] === close) {
      this.i++;
      return true;
    }
    if (this.text[this.i] !== ',') this.bad(context);
    this.i++;
    return false;
  }
  object(): void {
    if (this.emptyComposite('}')) return;
    for (;;) {
      this.ws();
      this.more();
      if (this.text[this.i] !== '"') this.bad('looking for beginning of object key string');
      this.string();
      this.ws();
      this.more();
      if (this.text[this.i] !== ':') this.bad('after object key');
      this.i++;
      this.value();
      if (this.closes('}', 'after object key:value pair')) return;
    }
  }
  array(): void {
    if (this.emptyComposite(']')) return;
    for (;;) {
      this.value();
      if (this.closes(']', 'after array element')) return;
    }
  }
  value(): void {
    this.ws();
    this.more();
    const c = this.text[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || /[0-9]/.test(c)) return this.number();
    if (c === 't') return this.literal('true');
    if (c === 'f') return this.literal('false');
    if (c === 'n') return this.literal('null');
    this.bad('looking for beginning of value');
  }
}

export function goJsonSyntaxError(text: string): string | undefined {
  const s = new GoScanner(text);
  try {
    s.value();
    s.ws();
    if (s.i < text.length) s.bad('after top-level value');
    return undefined;
  } catch (err) {
    if (err instanceof SyntaxFail) return err.message;
    throw err;
  }
}

/** Go's name for a JSON value's kind in "json: cannot unmarshal X into Go value of type T". */
export function goJsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v === 'boolean' ? 'bool' : typeof v;
}
