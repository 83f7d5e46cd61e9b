// The publish form, shared by a queue's page (default exchange, routing key =
// the queue) and an exchange's page: POST /api/exchanges/{vhost}/{x}/publish.

import { api, describe } from '../api.js';
import { enc, field, h, toast } from '../dom.js';

export function publishForm({ vhost, exchange, routingKey = '', onPublished }) {
  const key = h('input', { value: routingKey, name: 'routing_key' });
  const payload = h('textarea', { rows: 4, name: 'payload', spellcheck: 'false' });
  const contentType = h('input', { name: 'content_type', placeholder: 'text/plain' });
  const persistent = h('input', { type: 'checkbox', checked: true, name: 'persistent' });
  const headers = h('textarea', { rows: 2, name: 'headers', placeholder: '{"x-trace": "abc"}', spellcheck: 'false' });
  const button = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Publish');
  const form = h('form', { class: 'publish', 'aria-label': 'Publish a message', onsubmit: async (e) => {
    e.preventDefault();
    let headerObj = {};
    if (headers.value.trim()) {
      try {
        headerObj = JSON.parse(headers.value);
      } catch {
        toast('Headers must be a JSON object.', 'error');
        headers.focus();
        return;
      }
    }
    const properties = { delivery_mode: persistent.checked ? 2 : 1, headers: headerObj };
    if (contentType.value) properties.content_type = contentType.value;
    button.disabled = true;
    try {
      const res = await api('POST', `/api/exchanges/${enc(vhost)}/${enc(exchange || 'amq.default')}/publish`,
        { routing_key: key.value, payload: payload.value, payload_encoding: 'string', properties });
      if (res?.routed) toast('Message published.');
      else toast('Published, but no queue was bound to receive it (unroutable).', 'warn');
      onPublished?.();
    } catch (ex) {
      toast(describe(ex), 'error');
    } finally {
      button.disabled = false;
    }
  } },
  h('div', { class: 'row' }, field('Routing key', key), field('Content type', contentType), h('label', { class: 'check' }, persistent, 'Persistent')),
  field('Payload', payload), field('Headers (JSON)', headers), h('div', { class: 'actions' }, button));
  return form;
}
