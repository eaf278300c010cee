import { useState } from 'react';
import { useParams } from 'react-router';
import { formatPrice, useCart } from '../api.js';
import { useFetch } from '../useFetch.js';

export default function Product() {
  const { id } = useParams();
  const { data: product, error } = useFetch(`/products/${id}`);
  const { data: reviews } = useFetch(`/products/${id}/reviews`);
  const cart = useCart();
  const [added, setAdded] = useState(false);
  if (error) return <p className="error">No such product.</p>;
  if (!product) return <p>Loading…</p>;
  return (
    <section>
      <h1>{product.name}</h1>
      <p>{product.categoryName} · {formatPrice(product.priceCents)}</p>
      <p>{product.description}</p>
      <button onClick={() => { cart.add(product); setAdded(true); }}>Add to cart</button>
      {added && <span> Added.</span>}
      <h2>Reviews</h2>
      <ul className="reviews">
        {(reviews || []).map((r) => (
          <li key={r.id}><strong>{'★'.repeat(r.rating)} {r.title}</strong> — {r.author}<br />{r.body}</li>
        ))}
      </ul>
    </section>
  );
}
