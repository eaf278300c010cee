import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { formatPrice } from '../api.js';
import { useFetch } from '../useFetch.js';

export default function Products() {
  const [params, setParams] = useSearchParams();
  const category = params.get('category') || '1';
  const page = Number(params.get('page') || '0');
  const q = params.get('q') || '';
  const [draft, setDraft] = useState(q);
  const path = q
    ? `/products/search?q=${encodeURIComponent(q)}`
    : `/products?category=${encodeURIComponent(category)}&page=${page}`;
  const { data, error } = useFetch(path);
  const items = q ? data : data?.items;
  return (
    <section>
      <h1>{q ? `Search: ${q}` : 'Products'}</h1>
      <form onSubmit={(e) => { e.preventDefault(); setParams(draft ? { q: draft } : { category }); }}>
        <input value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="Search products" />
        <button type="submit">Search</button>
      </form>
      {error && <p className="error">Could not load products.</p>}
      <ul className="products">
        {(items || []).map((p) => (
          <li key={p.id}><Link to={`/products/${p.id}`}>{p.name}</Link> <span>{formatPrice(p.priceCents)}</span></li>
        ))}
      </ul>
      {!q && data && (
        <p>
          {page > 0 && <button onClick={() => setParams({ category, page: page - 1 })}>Previous</button>}
          {data.hasNext && <button onClick={() => setParams({ category, page: page + 1 })}>Next</button>}
        </p>
      )}
    </section>
  );
}
