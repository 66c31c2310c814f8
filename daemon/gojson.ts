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

export function goJsonSyntaxError(text: string): string | undefined {
  let i = 0;
  const end = (): never => {
    throw new SyntaxFail('unexpected end of JSON input');
  };
  const bad = (context: string): never => {
    throw new SyntaxFail(`invalid character ${quoteChar(text[i])} ${context}`);
  };
  const ws = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const literal = (word: string): void => {
    for (let k = 1; k < word.length; k++) {
      i++;
      if (i >= text.length) end();
      if (text[i] !== word[k]) bad(`in literal ${word} (expecting ${quoteChar(word[k])})`);
    }
    i++;
  };
  const digits = (): void => {
    while (i < text.length && /[0-9]/.test(text[i])) i++;
  };
  const number = (): void => {
    if (text[i] === '-') {
      i++;
      if (i >= text.length) end();
      if (!/[0-9]/.test(text[i])) bad('in numeric literal');
    }
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      if (i >= text.length) end();
      if (!/[0-9]/.test(text[i])) bad('after decimal point in numeric literal');
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (i >= text.length) end();
      if (!/[0-9]/.test(text[i])) bad('in exponent of numeric literal');
      digits();
    }
  };
  const string = (): void => {
    i++;
    for (;;) {
      if (i >= text.length) end();
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c < ' ') bad('in string literal');
      if (c === '\\') {
        i++;
        if (i >= text.length) end();
        if (text[i] === 'u') {
          for (let k = 0; k < 4; k++) {
            i++;
            if (i >= text.length) end();
            if (!/[0-9a-fA-F]/.test(text[i])) bad('in \\u hexadecimal character escape');
          }
        } else if (!'"\\/bfnrt'.includes(text[i])) bad('in string escape code');
      }
      i++;
    }
  };
  const value = (): void => {
    ws();
    if (i >= text.length) end();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (i >= text.length) end();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (i >= text.length) end();
        if (text[i] !== '"') bad('looking for beginning of object key string');
        string();
        ws();
        if (i >= text.length) end();
        if (text[i] !== ':') bad('after object key');
        i++;
        value();
        ws();
        if (i >= text.length) end();
        if (text[i] === '}') {
          i++;
          return;
        }
        if (text[i] !== ',') bad('after object key:value pair');
        i++;
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (i >= text.length) end();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (i >= text.length) end();
        if (text[i] === ']') {
          i++;
          return;
        }
        if (text[i] !== ',') bad('after array element');
        i++;
      }
    }
    if (c === '"') return string();
    if (c === '-' || /[0-9]/.test(c)) return number();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    bad('looking for beginning of value');
  };
  try {
    value();
    ws();
    if (i < text.length) bad('after top-level value');
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
