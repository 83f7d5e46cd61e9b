// Subscription filters on AMQP bindings, for every exchange type: a binding with
// an `x-filter-policy` argument (an SNS filter policy as JSON text, see
// src/broker/filter/) routes a message only if the exchange type's own rule
// matches AND the policy does, over the message's headers (the default scope,
// `x-filter-policy-scope: MessageAttributes`) or its JSON body
// (`x-filter-policy-scope: MessageBody`). Filtered bindings live in a FilterIndex,
// so a fanout exchange with 10,000 filtered bindings evaluates only the policies
// filed under the message's values; each matching binding then checks its type's
// rule with a router of its own. Bindings without a filter route as before.

import { preconditionFailed } from '../errors.js';
import { compileFilterPolicy, FilterIndex, FilterPolicyError, headersInput, jsonBodyInput, type CompiledPolicy, type FilterScope } from '../filter/index.js';
import { BindingTable, type Args, type Binding, type Router } from './router.js';

export const FILTER_POLICY_ARG = 'x-filter-policy';
export const FILTER_SCOPE_ARG = 'x-filter-policy-scope';

interface Filtered<D> {
  readonly binding: Binding<D>;
  /** A router of the exchange's type holding this one binding: its type rule. */
  readonly own: Router<D>;
}

export class FilteringRouter<D> implements Router<D> {
  private readonly table = new BindingTable<D>();
  private readonly entries: Filtered<D>[] = [];
  private readonly byScope: Record<FilterScope, FilterIndex<Filtered<D>>> = { MessageAttributes: new FilterIndex(), MessageBody: new FilterIndex() };

  constructor(
    private readonly plain: Router<D>,
    private readonly makeRouter: () => Router<D>,
  ) {}

  get size(): number {
    return this.plain.size + this.entries.length;
  }

  bind(destination: D, routingKey: string, args: Args): boolean {
    if (!Object.hasOwn(args, FILTER_POLICY_ARG)) return this.plain.bind(destination, routingKey, args);
    const { policy, scope } = readFilter(args);
    const own = this.makeRouter();
    own.bind(destination, routingKey, args); // validates the type's own arguments (x-match) first
    if (this.table.add(destination, routingKey, args) === 'duplicate') return false;
    const entry = { binding: { destination, routingKey, args }, own };
    this.entries.push(entry);
    this.byScope[scope].add(entry, policy);
    return true;
  }

  unbind(destination: D, routingKey: string, args: Args): boolean {
    if (!Object.hasOwn(args, FILTER_POLICY_ARG)) return this.plain.unbind(destination, routingKey, args);
    if (this.table.remove(destination, routingKey, args) === 'missing') return false;
    const i = this.entries.findIndex((e) => e.binding.destination === destination && e.binding.routingKey === routingKey && e.own.unbind(destination, routingKey, args));
    if (i >= 0) this.drop(i);
    return true;
  }

  unbindAll(destination: D): number {
    let n = this.plain.unbindAll(destination);
    n += this.table.removeAll(destination).length;
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i].binding.destination === destination) this.drop(i);
    return n;
  }

  route(routingKey: string, headers: Args | undefined, out: Set<D>, body?: Buffer): void {
    this.plain.route(routingKey, headers, out);
    if (this.entries.length === 0) return;
    const byHeaders = this.byScope.MessageAttributes;
    if (byHeaders.size > 0) for (const e of byHeaders.match(headersInput(headers))) e.own.route(routingKey, headers, out);
    const byBody = this.byScope.MessageBody;
    if (byBody.size > 0 && body !== undefined) {
      for (const e of byBody.match(jsonBodyInput(parseJson(body)))) e.own.route(routingKey, headers, out);
    }
  }

  *bindings(): Iterable<Binding<D>> {
    yield* this.plain.bindings();
    for (const e of this.entries) yield e.binding;
  }

  private drop(i: number): void {
    const [e] = this.entries.splice(i, 1);
    this.byScope.MessageAttributes.remove(e);
    this.byScope.MessageBody.remove(e);
  }
}

/** The binding's policy and scope; 406 with SNS's reason when either is invalid. */
function readFilter(args: Args): { policy: CompiledPolicy; scope: FilterScope } {
  const raw = args[FILTER_POLICY_ARG];
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : raw;
  if (typeof text !== 'string') throw preconditionFailed(`invalid arg '${FILTER_POLICY_ARG}': expected a JSON filter policy as a longstr`);
  const rawScope = args[FILTER_SCOPE_ARG] ?? 'MessageAttributes';
  const scope = Buffer.isBuffer(rawScope) ? rawScope.toString('utf8') : rawScope;
  if (scope !== 'MessageAttributes' && scope !== 'MessageBody') {
    throw preconditionFailed(`invalid arg '${FILTER_SCOPE_ARG}': expected MessageAttributes or MessageBody`);
  }
  try {
    return { policy: compileFilterPolicy(text, scope), scope };
  } catch (err) {
    if (err instanceof FilterPolicyError) throw preconditionFailed(`invalid arg '${FILTER_POLICY_ARG}': ${err.detail}`);
    throw err;
  }
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined; // not JSON: matches no MessageBody policy
  }
}
