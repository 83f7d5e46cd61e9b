// The model scripts/codegen/kafka.ts generates from: Kafka's message schema
// JSON (spec/kafka-messages/README.md) turned into messages, structs and
// fields with parsed version ranges and defaults, checked the way Kafka's own
// generator checks them (unique struct names and tags, tagged versions open
// ended and within the flexible versions, defaults that fit their types).

export interface Range {
  lo: number;
  /** Infinity for an open range ("3+"). */
  hi: number;
}

export interface FieldModel {
  name: string;
  /** camelCase: "TopicData" -> "topicData". */
  prop: string;
  about: string | undefined;
  /** The element type of an array, else the type: int32, string, records, or a struct's schema name. */
  elementType: string;
  isArray: boolean;
  struct: StructModel | undefined;
  versions: Range | null;
  /** Versions in which the field is present and not tagged. */
  mandatoryVersions: Range | null;
  taggedVersions: Range | null;
  nullableVersions: Range | null;
  /** Null is a possible value in some version, or the default. */
  nullableEver: boolean;
  tag: number | undefined;
  ignorable: boolean;
  /** The parsed default: null, a number, bigint, boolean or string; [] and structs use type defaults. */
  defaultValue: null | number | bigint | boolean | string | 'type-default';
  defaultText: string | undefined;
  /** A field-level flexibleVersions: only "none" occurs (RequestHeader.ClientId stays a STRING). */
  flexibleOverride: 'none' | undefined;
}

export interface StructModel {
  /** The schema's struct name ("TopicProduceData"), or the message name for the root. */
  name: string;
  /** TypeScript name: message name + struct name ("ProduceRequestTopicProduceData"). */
  typeName: string;
  /** The versions in which the struct can occur. */
  context: Range;
  fields: FieldModel[];
}

export interface MessageModel {
  name: string;
  type: 'request' | 'response' | 'header' | 'data';
  apiKey: number | undefined;
  validVersions: Range;
  flexibleVersions: Range | null;
  latestVersionUnstable: boolean;
  root: StructModel;
  /** Root first, then nested structs in schema order. */
  structs: StructModel[];
  doc: string;
}

interface SchemaField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  flexibleVersions?: string;
  tag?: number;
  ignorable?: boolean;
  default?: string | number | boolean;
  about?: string;
  fields?: SchemaField[];
}

interface Schema {
  name: string;
  type: MessageModel['type'];
  apiKey?: number;
  validVersions: string;
  flexibleVersions: string;
  latestVersionUnstable?: boolean;
  fields: SchemaField[];
  commonStructs?: { name: string; versions: string; fields: SchemaField[] }[];
}

const PRIMITIVES = new Set(['bool', 'int8', 'int16', 'int32', 'int64', 'uint16', 'uint32', 'float64', 'string', 'uuid', 'bytes', 'records']);
const INT_RANGES: Record<string, [number, number]> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
};

export function parseRange(text: string | undefined, what: string): Range | null {
  if (text === undefined || text === 'none') return null;
  let m = /^(\d+)\+$/.exec(text);
  if (m) return { lo: Number(m[1]), hi: Infinity };
  m = /^(\d+)-(\d+)$/.exec(text);
  if (m) return { lo: Number(m[1]), hi: Number(m[2]) };
  m = /^(\d+)$/.exec(text);
  if (m) return { lo: Number(m[1]), hi: Number(m[1]) };
  throw new Error(`${what}: bad version range '${text}'`);
}

function intersect(a: Range | null, b: Range | null): Range | null {
  if (a === null || b === null) return null;
  const lo = Math.max(a.lo, b.lo);
  const hi = Math.min(a.hi, b.hi);
  return lo > hi ? null : { lo, hi };
}

function parseInt(text: string, type: string, what: string): number | bigint {
  const neg = text.startsWith('-');
  const body = neg ? text.slice(1) : text;
  const big = body.startsWith('0x') ? BigInt(body) : BigInt(body.replace(/^0+(?=\d)/, ''));
  const value = neg ? -big : big;
  if (type === 'int64') {
    if (value < -(1n << 63n) || value >= 1n << 63n) throw new Error(`${what}: default ${text} out of int64 range`);
    return value;
  }
  const [min, max] = INT_RANGES[type];
  if (value < BigInt(min) || value > BigInt(max)) throw new Error(`${what}: default ${text} out of ${type} range`);
  return Number(value);
}

function parseDefault(f: SchemaField, elementType: string, isArray: boolean, what: string): FieldModel['defaultValue'] {
  const d = f.default === undefined ? undefined : String(f.default);
  if (d === 'null') {
    if (f.nullableVersions === undefined && elementType !== 'records') throw new Error(`${what}: default null on a non-nullable field`);
    return null;
  }
  if (isArray || !PRIMITIVES.has(elementType)) {
    if (d !== undefined && d !== '') throw new Error(`${what}: arrays and structs take no default but null`);
    return 'type-default';
  }
  switch (elementType) {
    case 'bool':
      if (d === undefined || d === '' || d === 'false') return false;
      if (d === 'true') return true;
      throw new Error(`${what}: bad boolean default ${d}`);
    case 'float64':
      return d === undefined || d === '' ? 0 : Number(d);
    case 'string':
      return d ?? '';
    case 'uuid':
      return '00000000-0000-0000-0000-000000000000';
    case 'bytes':
      return 'type-default';
    case 'records':
      return null;
    default:
      return d === undefined || d === '' ? (elementType === 'int64' ? 0n : 0) : parseInt(d, elementType, what);
  }
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

class Builder {
  readonly structs: StructModel[] = [];
  private readonly common = new Map<string, { versions: string; fields: SchemaField[] }>();
  private readonly commonBuilt = new Map<string, StructModel>();
  private readonly names = new Set<string>();

  constructor(
    private readonly schema: Schema,
    private readonly valid: Range,
    private readonly flexible: Range | null,
  ) {
    for (const s of schema.commonStructs ?? []) this.common.set(s.name, s);
  }

  struct(name: string, context: Range, fields: SchemaField[], isRoot: boolean): StructModel {
    if (this.names.has(name)) throw new Error(`${this.schema.name}: struct ${name} is defined twice`);
    this.names.add(name);
    const s: StructModel = { name, typeName: isRoot ? name : this.schema.name + name, context, fields: [] };
    this.structs.push(s);
    const tags = new Set<number>();
    for (const f of fields) {
      const field = this.field(f, s);
      if (field.tag !== undefined) {
        if (tags.has(field.tag)) throw new Error(`${this.schema.name}.${f.name}: duplicate tag ${field.tag}`);
        tags.add(field.tag);
      }
      if (s.fields.some((x) => x.prop === field.prop)) throw new Error(`${this.schema.name}.${f.name}: duplicate field`);
      s.fields.push(field);
    }
    return s;
  }

  private structOf(typeName: string, f: SchemaField, versions: Range | null, what: string): StructModel {
    if (f.fields !== undefined) {
      const ctx = intersect(versions, this.valid);
      if (ctx === null) throw new Error(`${what}: struct field present in no valid version`);
      return this.struct(typeName, ctx, f.fields, false);
    }
    const built = this.commonBuilt.get(typeName);
    if (built !== undefined) return built;
    const c = this.common.get(typeName);
    if (c === undefined) throw new Error(`${what}: unknown struct type ${typeName}`);
    const ctx = intersect(parseRange(c.versions, what), this.valid);
    if (ctx === null) throw new Error(`${what}: common struct ${typeName} has no valid version`);
    const s = this.struct(typeName, ctx, c.fields, false);
    this.commonBuilt.set(typeName, s);
    return s;
  }

  private field(f: SchemaField, parent: StructModel): FieldModel {
    const what = `${this.schema.name}.${f.name}`;
    const isArray = f.type.startsWith('[]');
    const elementType = isArray ? f.type.slice(2) : f.type;
    const versions = parseRange(f.versions, what);
    if (versions === null) throw new Error(`${what}: no versions`);
    const taggedVersions = parseRange(f.taggedVersions, what);
    if ((taggedVersions === null) !== (f.tag === undefined)) throw new Error(`${what}: tag and taggedVersions go together`);
    if (taggedVersions !== null) {
      if (taggedVersions.hi !== Infinity) throw new Error(`${what}: tagged versions must be open-ended`);
      const flexOk = this.flexible !== null && taggedVersions.lo >= this.flexible.lo;
      if (!flexOk) throw new Error(`${what}: tagged versions outside the flexible versions`);
    }
    // Present and untagged: versions minus the (open-ended) tagged versions.
    let mandatoryVersions: Range | null = versions;
    if (taggedVersions !== null) {
      mandatoryVersions = taggedVersions.lo <= versions.lo ? null : { lo: versions.lo, hi: Math.min(versions.hi, taggedVersions.lo - 1) };
    }
    const nullableVersions = parseRange(f.nullableVersions, what);
    if (nullableVersions !== null && !isArray && ['bool', 'int8', 'int16', 'int32', 'int64', 'uint16', 'uint32', 'float64'].includes(elementType)) {
      throw new Error(`${what}: ${elementType} cannot be nullable`);
    }
    if (f.flexibleVersions !== undefined && f.flexibleVersions !== 'none') throw new Error(`${what}: field flexibleVersions other than none`);
    const struct = PRIMITIVES.has(elementType) ? undefined : this.structOf(elementType, f, intersect(versions, parent.context), what);
    if (isArray && struct === undefined && ['records'].includes(elementType)) throw new Error(`${what}: arrays of records`);
    const defaultValue = parseDefault(f, elementType, isArray, what);
    return {
      name: f.name,
      prop: lowerFirst(f.name),
      about: f.about,
      elementType,
      isArray,
      struct,
      versions,
      mandatoryVersions,
      taggedVersions,
      nullableVersions,
      nullableEver: nullableVersions !== null || defaultValue === null,
      tag: f.tag,
      ignorable: f.ignorable === true,
      defaultValue,
      defaultText: f.default === undefined ? undefined : String(f.default),
      flexibleOverride: f.flexibleVersions === 'none' ? 'none' : undefined,
    };
  }
}

export function messageModel(json: unknown): MessageModel {
  const schema = json as Schema;
  const valid = parseRange(schema.validVersions, schema.name);
  if (valid === null || valid.hi === Infinity) throw new Error(`${schema.name}: validVersions must be a closed range`);
  const flexible = parseRange(schema.flexibleVersions, schema.name);
  const b = new Builder(schema, valid, flexible);
  const root = b.struct(schema.name, valid, schema.fields, true);
  const flexText = flexible === null ? 'none' : `${flexible.lo}+`;
  const key = schema.apiKey === undefined ? '' : ` (api key ${schema.apiKey})`;
  return {
    name: schema.name,
    type: schema.type,
    apiKey: schema.apiKey,
    validVersions: valid,
    flexibleVersions: flexible,
    latestVersionUnstable: schema.latestVersionUnstable === true,
    root,
    structs: b.structs,
    doc: `${schema.name}${key}: versions ${valid.lo}-${valid.hi}, flexible ${flexText}${schema.latestVersionUnstable ? `, version ${valid.hi} unstable` : ''}.`,
  };
}
