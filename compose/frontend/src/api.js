// The back end's REST API, through nginx's /api proxy.
export const DEMO_CUSTOMER_ID = 1;

export async function api(path, options = {}) {
  const res = await fetch(`/api${path}`, {
    headers: { 'Content-Type': 'application/json' },
    ...options,
  });
  if (!res.ok) {
    throw new Error(`${options.method || 'GET'} /api${path}: ${res.status}`);
  }
  return res.json();
}

export function formatPrice(cents) {
  return (cents / 100).toFixed(2);
}

export function useCart() {
  const read = () => JSON.parse(localStorage.getItem('cart') || '[]');
  const write = (items) => localStorage.setItem('cart', JSON.stringify(items));
  return {
    items: read,
    add(product) {
      const items = read();
      const line = items.find((l) => l.productId === product.id);
      if (line) line.quantity += 1;
      else items.push({ productId: product.id, name: product.name, priceCents: product.priceCents, quantity: 1 });
      write(items);
    },
    clear: () => write([]),
  };
}
