import { DEMO_CUSTOMER_ID, formatPrice } from '../api.js';
import { useFetch } from '../useFetch.js';

export default function Orders() {
  const { data: orders, error } = useFetch(`/customers/${DEMO_CUSTOMER_ID}/orders`);
  return (
    <section>
      <h1>Your orders</h1>
      {error && <p className="error">Could not load orders.</p>}
      {(orders || []).map((o) => (
        <article key={o.id}>
          <h2>Order {o.id} · {o.status} · {formatPrice(o.totalCents)}</h2>
          <ul>{o.items.map((i) => <li key={i.productId}>{i.quantity} × {i.productName}</li>)}</ul>
        </article>
      ))}
    </section>
  );
}
