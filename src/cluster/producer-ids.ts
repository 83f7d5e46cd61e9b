// Producer ids unique across the cluster (docs/cluster.md, "Consumer groups and producer ids"):
// Kafka's controller hands brokers blocks of ids (KIP-730, AllocateProducerIds); here one etcd
// key, `producer-ids`, holds the first id no block has taken yet, and a node takes the next block
// with a compare-and-swap on that key's revision. No id is handed out twice: a block is the
// node's only once etcd took the swap, and the key never goes down.

import { Etcd3 } from 'etcd3';

/** Ids per block, as Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE. */
export const PRODUCER_ID_BLOCK_SIZE = 1000;
const ATTEMPTS_MAX = 20;

export interface ProducerIdBlock {
  readonly first: number;
  /** One past the block's last id. */
  readonly end: number;
}

/** Takes the next block of producer ids from etcd's counter under `root`. */
export async function takeProducerIdBlock(client: Etcd3, root: string, size = PRODUCER_ID_BLOCK_SIZE): Promise<ProducerIdBlock> {
  const key = `${root}producer-ids`;
  for (let attempt = 1; attempt <= ATTEMPTS_MAX; attempt++) {
    const res = await client.get(key).exec();
    const kv = res.kvs[0];
    const first = kv === undefined ? 0 : Number(kv.value.toString());
    if (!Number.isSafeInteger(first) || first < 0) throw new Error(`etcd key ${key} holds '${kv?.value.toString()}', not a producer id`);
    const end = first + size;
    const swap = await client
      .if(key, 'Mod', '==', kv === undefined ? 0 : kv.mod_revision)
      .then(client.put(key).value(String(end)))
      .commit();
    if (swap.succeeded) return { first, end };
  }
  throw new Error(`could not take a block of producer ids from etcd in ${ATTEMPTS_MAX} attempts`);
}

/** The node's source of producer id blocks: its own etcd client, closed with the node. */
export class ProducerIdBlocks {
  private readonly client: Etcd3;

  constructor(
    endpoints: readonly string[],
    private readonly root: string,
  ) {
    this.client = new Etcd3({ hosts: [...endpoints] });
  }

  take(): Promise<ProducerIdBlock> {
    return takeProducerIdBlock(this.client, this.root);
  }

  close(): void {
    this.client.close();
  }
}
