/**
 * A small strict JSON parser for safetensors headers.
 *
 * Why not `JSON.parse`: it silently keeps the last of duplicate keys (the format forbids duplicate
 * tensor names), it reorders integer-like keys ("0", "1", …) so header order would be lost, and it
 * gives no way to bound nesting. This parser keeps objects as ordered key/value lists, rejects
 * duplicate keys and caps nesting depth, so a hostile header can neither hide a tensor nor blow
 * the stack. Every failure is a `JsonSyntaxError` carrying the character position.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/** An object in source order. `entries` never holds two equal keys. */
export class JsonObject {
  constructor(readonly entries: ReadonlyArray<readonly [string, JsonValue]>) {}
}

export class JsonSyntaxError extends Error {
  constructor(
    readonly problem: string,
    readonly position: number,
    /** Set when the problem is a repeated object key. */
    readonly duplicateKey?: string,
  ) {
    super(`${problem} at header character ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

/** Deep enough for any safetensors header (top object → entry → shape array), shallow enough to never overflow the stack. */
const MAX_DEPTH = 64;

const NUMBER_PATTERN = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

export function parseJson(text: string): JsonValue {
  const parser = new Parser(text);
  parser.skipWhitespace();
  const value = parser.parseValue(0);
  parser.skipWhitespace();
  if (parser.pos !== text.length) parser.fail('unexpected content after the JSON value');
  return value;
}

class Parser {
  pos = 0;
  constructor(private readonly text: string) {}

  fail(problem: string): never {
    throw new JsonSyntaxError(problem, this.pos);
  }

  skipWhitespace(): void {
    const s = this.text;
    let i = this.pos;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    this.pos = i;
  }

  parseValue(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
    const s = this.text;
    if (this.pos >= s.length) this.fail('unexpected end of header');
    const c = s[this.pos]!;
    switch (c) {
      case '{':
        return this.parseObject(depth);
      case '[':
        return this.parseArray(depth);
      case '"':
        return this.parseString();
      case 't':
        return this.parseLiteral('true', true);
      case 'f':
        return this.parseLiteral('false', false);
      case 'n':
        return this.parseLiteral('null', null);
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.parseNumber();
        return this.fail(`unexpected character ${JSON.stringify(c)}`);
    }
  }

  private parseLiteral<T extends JsonValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`invalid literal (expected ${word})`);
    this.pos += word.length;
    return value;
  }

  private parseNumber(): number {
    NUMBER_PATTERN.lastIndex = this.pos;
    const match = NUMBER_PATTERN.exec(this.text);
    if (match === null) return this.fail('invalid number');
    this.pos += match[0].length;
    return Number(match[0]);
  }

  private parseString(): string {
    const s = this.text;
    let i = this.pos + 1; // past the opening quote
    let out = '';
    let chunkStart = i;
    for (;;) {
      if (i >= s.length) {
        this.pos = i;
        this.fail('unterminated string');
      }
      const c = s.charCodeAt(i);
      if (c === 0x22 /* " */) {
        out += s.slice(chunkStart, i);
        this.pos = i + 1;
        return out;
      }
      if (c < 0x20) {
        this.pos = i;
        this.fail('control character inside a string');
      }
      if (c !== 0x5c /* \ */) {
        i++;
        continue;
      }
      out += s.slice(chunkStart, i);
      const e = s[i + 1];
      switch (e) {
        case '"':
          out += '"';
          i += 2;
          break;
        case '\\':
          out += '\\';
          i += 2;
          break;
        case '/':
          out += '/';
          i += 2;
          break;
        case 'b':
          out += '\b';
          i += 2;
          break;
        case 'f':
          out += '\f';
          i += 2;
          break;
        case 'n':
          out += '\n';
          i += 2;
          break;
        case 'r':
          out += '\r';
          i += 2;
          break;
        case 't':
          out += '\t';
          i += 2;
          break;
        case 'u': {
          const hex = s.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.pos = i;
            this.fail('invalid \\u escape');
          }
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
          break;
        }
        default:
          this.pos = i;
          this.fail('invalid escape sequence');
      }
      chunkStart = i;
    }
  }

  private parseArray(depth: number): JsonValue[] {
    this.pos++; // [
    const items: JsonValue[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return items;
    }
    for (;;) {
      this.skipWhitespace();
      items.push(this.parseValue(depth + 1));
      this.skipWhitespace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === ']') return items;
      if (c !== ',') {
        this.pos--;
        this.fail("expected ',' or ']' in an array");
      }
    }
  }

  private parseObject(depth: number): JsonObject {
    this.pos++; // {
    const entries: Array<[string, JsonValue]> = [];
    const seen = new Set<string>();
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return new JsonObject(entries);
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') this.fail('expected a string key in an object');
      const keyPos = this.pos;
      const key = this.parseString();
      if (seen.has(key)) {
        throw new JsonSyntaxError(`duplicate key ${JSON.stringify(key)}`, keyPos, key);
      }
      seen.add(key);
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail("expected ':' after an object key");
      this.pos++;
      this.skipWhitespace();
      entries.push([key, this.parseValue(depth + 1)]);
      this.skipWhitespace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === '}') return new JsonObject(entries);
      if (c !== ',') {
        this.pos--;
        this.fail("expected ',' or '}' in an object");
      }
    }
  }
}
