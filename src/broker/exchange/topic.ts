// Topic exchange (RabbitMQ tutorial 5, AMQP 0-9-1 §3.1.3.3 leaves the syntax to
// brokers): routing and binding keys are words separated by '.'; in a binding
// key the word `*` matches exactly one word and `#` matches zero or more.
//
// Binding keys live in a trie, one edge per word. Matching walks the trie as an
// NFA: at each word of the routing key it keeps the *set* of nodes reached so
// far (deduplicated with a per-step stamp), so the cost is at most
// words × trie nodes, never exponential however many `#` a pattern holds
// (a naive backtracking matcher is exponential on `#.#.#.#.x`).
//
// RabbitMQ splits the empty routing key into zero words (not one empty word),
// so "" matches the binding keys "" and "#" but not "*"; "a..b" is three words,
// the middle one empty. We do the same.

import { BindingTable, type Args, type Binding, type Router } from './router.js';

/** Routing keys whose match results are remembered until the next binding change. */
const routeCacheEntriesMax = 4096;

class TrieNode<D> {
  /** Literal words (including literal words that merely contain * or #). */
  readonly children = new Map<string, TrieNode<D>>();
  star: TrieNode<D> | undefined;
  hash: TrieNode<D> | undefined;
  /** Destinations with a binding key ending at this node. */
  readonly destinations = new Set<D>();
  /** Stamp of the match step that last reached this node (deduplication). */
  mark = 0;
  constructor(
    /** Reached through a `#` edge: may also consume any number of further words. */
    readonly isHash: boolean,
  ) {}

  get isEmpty(): boolean {
    return this.destinations.size === 0 && this.children.size === 0 && !this.star && !this.hash;
  }
}

/** Split a key the way RabbitMQ does: "" is zero words, otherwise split on every '.'. */
export function splitTopicKey(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

export class TopicRouter<D> implements Router<D> {
  private readonly table = new BindingTable<D>();
  private readonly root = new TrieNode<D>(false);
  private stamp = 0;
  private readonly routeCache = new Map<string, readonly D[]>();

  get size(): number {
    return this.table.size;
  }

  bind(destination: D, routingKey: string, args: Args): boolean {
    const n = this.table.add(destination, routingKey, args);
    if (n === 'duplicate') return false;
    if (n === 1) {
      this.nodeFor(routingKey).destinations.add(destination);
      this.routeCache.clear();
    }
    return true;
  }

  unbind(destination: D, routingKey: string, args: Args): boolean {
    const left = this.table.remove(destination, routingKey, args);
    if (left === 'missing') return false;
    if (left === 0) this.removeFromTrie(routingKey, destination);
    return true;
  }

  unbindAll(destination: D): number {
    const removed = this.table.removeAll(destination);
    const keys = new Set(removed.map((b) => b.routingKey));
    for (const key of keys) this.removeFromTrie(key, destination);
    return removed.length;
  }

  route(routingKey: string, _headers: Args | undefined, out: Set<D>): void {
    let matched = this.routeCache.get(routingKey);
    if (!matched) {
      matched = this.match(splitTopicKey(routingKey));
      if (this.routeCache.size >= routeCacheEntriesMax) {
        // Oldest first: Map iteration follows insertion order.
        this.routeCache.delete(this.routeCache.keys().next().value as string);
      }
      this.routeCache.set(routingKey, matched);
    }
    for (const d of matched) out.add(d);
  }

  bindings(): Iterable<Binding<D>> {
    return this.table.entries();
  }

  private match(words: readonly string[]): D[] {
    let current: TrieNode<D>[] = [];
    this.enter(this.root, current, ++this.stamp);
    for (const word of words) {
      if (current.length === 0) break;
      const next: TrieNode<D>[] = [];
      const stamp = ++this.stamp;
      for (const node of current) {
        const literal = node.children.get(word);
        if (literal) this.enter(literal, next, stamp);
        if (node.star) this.enter(node.star, next, stamp);
        // A `#` node swallows this word too and stays where it is.
        if (node.isHash) this.enter(node, next, stamp);
      }
      current = next;
    }
    const result = new Set<D>();
    for (const node of current) for (const d of node.destinations) result.add(d);
    return [...result];
  }

  /** Add node to the step's state list, plus the `#` chain below it, which matches zero words. */
  private enter(node: TrieNode<D>, states: TrieNode<D>[], stamp: number): void {
    for (let n: TrieNode<D> | undefined = node; n && n.mark !== stamp; n = n.hash) {
      n.mark = stamp;
      states.push(n);
    }
  }

  private nodeFor(bindingKey: string): TrieNode<D> {
    let node = this.root;
    for (const word of splitTopicKey(bindingKey)) {
      if (word === '#') node = node.hash ??= new TrieNode<D>(true);
      else if (word === '*') node = node.star ??= new TrieNode<D>(false);
      else {
        let child = node.children.get(word);
        if (!child) {
          child = new TrieNode<D>(false);
          node.children.set(word, child);
        }
        node = child;
      }
    }
    return node;
  }

  /** Remove destination from the key's node, then prune the nodes left empty. */
  private removeFromTrie(bindingKey: string, destination: D): void {
    const path: { parent: TrieNode<D>; word: string }[] = [];
    let node: TrieNode<D> | undefined = this.root;
    for (const word of splitTopicKey(bindingKey)) {
      path.push({ parent: node, word });
      node = word === '#' ? node.hash : word === '*' ? node.star : node.children.get(word);
      if (!node) return;
    }
    node.destinations.delete(destination);
    this.routeCache.clear();
    for (let i = path.length - 1; i >= 0 && node.isEmpty; i--) {
      const { parent, word } = path[i];
      if (word === '#') parent.hash = undefined;
      else if (word === '*') parent.star = undefined;
      else parent.children.delete(word);
      node = parent;
    }
  }
}
