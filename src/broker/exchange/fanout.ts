// Fanout exchange: every bound destination gets every message; the routing key
// and headers are ignored (AMQP 0-9-1 §3.1.3.2).

import { BindingTable, type Args, type Binding, type Router } from './router.js';

export class FanoutRouter<D> implements Router<D> {
  private readonly table = new BindingTable<D>();

  get size(): number {
    return this.table.size;
  }

  bind(destination: D, routingKey: string, args: Args): boolean {
    return this.table.add(destination, routingKey, args) !== 'duplicate';
  }

  unbind(destination: D, routingKey: string, args: Args): boolean {
    return this.table.remove(destination, routingKey, args) !== 'missing';
  }

  unbindAll(destination: D): number {
    return this.table.removeAll(destination).length;
  }

  route(_routingKey: string, _headers: Args | undefined, out: Set<D>): void {
    for (const d of this.table.destinations()) out.add(d);
  }

  bindings(): Iterable<Binding<D>> {
    return this.table.entries();
  }
}
