// The parts of a botocore service model (spec/aws/*.json, generated/ *.ts) that the
// query codec reads: operations with their input and output shapes and result
// wrappers, and shapes with the serialization traits of the query protocol
// (locationName, flattened). Other keys (min, max, enum, ...) are kept but unused.

export type ShapeType = 'structure' | 'list' | 'map' | 'string' | 'integer' | 'long' | 'boolean' | 'blob' | 'timestamp' | 'double' | 'float';

/** A reference to a shape, with the serialization traits the reference adds to it. */
export interface ShapeRef {
  readonly shape: string;
  /** The element name on the wire (query key segment, XML element). */
  readonly locationName?: string;
  readonly flattened?: boolean;
  /** On an operation's output: the XML element wrapping the result (e.g. SendMessageResult). */
  readonly resultWrapper?: string;
  readonly [trait: string]: unknown;
}

export interface Shape {
  readonly type: ShapeType;
  readonly members?: Readonly<Record<string, ShapeRef>>;
  readonly required?: readonly string[];
  readonly member?: ShapeRef;
  readonly key?: ShapeRef;
  readonly value?: ShapeRef;
  readonly flattened?: boolean;
  readonly locationName?: string;
  readonly error?: { readonly code?: string; readonly httpStatusCode?: number; readonly senderFault?: boolean };
  readonly exception?: boolean;
  readonly [trait: string]: unknown;
}

export interface Operation {
  readonly name: string;
  readonly input?: ShapeRef;
  readonly output?: ShapeRef;
  readonly [trait: string]: unknown;
}

export interface ServiceModel {
  readonly metadata: {
    readonly apiVersion: string;
    readonly endpointPrefix: string;
    readonly protocol: string;
    readonly xmlNamespace?: string;
    readonly [key: string]: unknown;
  };
  readonly operations: Readonly<Record<string, Operation>>;
  readonly shapes: Readonly<Record<string, Shape>>;
}

/** The operation an Action names, if the model has it. */
export function operationOf(model: ServiceModel, action: string): Operation | undefined {
  return Object.hasOwn(model.operations, action) ? model.operations[action] : undefined;
}

export function shapeOf(model: ServiceModel, ref: ShapeRef): Shape {
  const s = model.shapes[ref.shape];
  if (s === undefined) throw new Error(`model has no shape ${ref.shape}`);
  return s;
}

/**
 * The name a reference goes by on the wire: its own locationName, else its shape's (as
 * botocore merges a shape's traits under the reference's: SQS's TagQueue Tags is "Tag"
 * through the TagMap shape), else none (the member name, or member/key/value, applies).
 */
export function locationNameOf(model: ServiceModel, ref: ShapeRef): string | undefined {
  return ref.locationName ?? model.shapes[ref.shape]?.locationName;
}

/** Whether a list or map is flattened: the reference's trait wins over the shape's. */
export function isFlattened(ref: ShapeRef, shape: Shape): boolean {
  return ref.flattened ?? shape.flattened ?? false;
}
