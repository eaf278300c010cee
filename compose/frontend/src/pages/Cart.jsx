import { useState } from 'react';
import { api, DEMO_CUSTOMER_ID, formatPrice, useCart } from '../api.js';

export default function Cart() {
  const cart = useCart();
  const [items, setItems] = useState(cart.items());
  const [result, setResult] = useState(null);
  const total = items.reduce((sum, l) => sum + l.priceCents * l.quantity, 0);
  async function checkout() {
    try {
      const order = await api('/orders', {
        method: 'POST',
        body: JSON.stringify({
          customerId: DEMO_CUSTOMER_ID,
          items: items.map((l) => ({ productId: l.productId, quantity: l.quantity })),
        }),
      });
      cart.clear();
      setItems([]);
      setResult(`Order ${order.id} placed.`);
    } catch (e) {
      setResult(`Checkout failed: ${e.message}`);
    }
  }
  return (
    <section>
      <h1>Cart</h1>
      {items.length === 0 && <p>Your cart is empty.</p>}
      <ul>
        {items.map((l) => <li key={l.productId}>{l.quantity} × {l.name} — {formatPrice(l.priceCents * l.quantity)}</li>)}
      </ul>
      {items.length > 0 && <p>Total {formatPrice(total)} <button onClick={checkout}>Place order</button></p>}
      {result && <p>{result}</p>}
    </section>
  );
}
