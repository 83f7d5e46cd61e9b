// Direct exchange: a message goes to every destination bound with a routing key
// exactly equal to the message's (AMQP 0-9-1 §3.1.3.1). One hash lookup per
// publish, whatever the number of bindings.

import { BindingTable, type Args, type Binding, type Router } from './router.js';

export class DirectRouter<D> implements Router<D> {
  private readonly table = new BindingTable<D>();
  /** routing key -> destinations bound with it. */
  private readonly index = new Map<string, Set<D>>();

  get size(): number {
    return this.table.size;
  }

  bind(destination: D, routingKey: string, args: Args): boolean {
    const n = this.table.add(destination, routingKey, args);
    if (n === 'duplicate') return false;
    if (n === 1) this.indexAdd(routingKey, destination);
    return true;
  }

  unbind(destination: D, routingKey: string, args: Args): boolean {
    const left = this.table.remove(destination, routingKey, args);
    if (left === 'missing') return false;
    if (left === 0) this.indexDelete(routingKey, destination);
    return true;
  }

  unbindAll(destination: D): number {
    const removed = this.table.removeAll(destination);
    for (const b of removed) this.indexDelete(b.routingKey, destination);
    return removed.length;
  }

  route(routingKey: string, _headers: Args | undefined, out: Set<D>): void {
    const destinations = this.index.get(routingKey);
    if (destinations) for (const d of destinations) out.add(d);
  }

  bindings(): Iterable<Binding<D>> {
    return this.table.entries();
  }

  private indexAdd(routingKey: string, destination: D): void {
    let destinations = this.index.get(routingKey);
    if (!destinations) {
      destinations = new Set();
      this.index.set(routingKey, destinations);
    }
    destinations.add(destination);
  }

  private indexDelete(routingKey: string, destination: D): void {
    const destinations = this.index.get(routingKey);
    if (!destinations) return;
    destinations.delete(destination);
    if (destinations.size === 0) this.index.delete(routingKey);
  }
}
