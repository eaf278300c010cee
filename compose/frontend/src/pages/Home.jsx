import { Link } from 'react-router';
import { useFetch } from '../useFetch.js';

export default function Home() {
  const { data: categories, error } = useFetch('/categories');
  return (
    <section>
      <h1>Welcome</h1>
      <p>Browse by category:</p>
      {error && <p className="error">Could not load categories.</p>}
      <ul className="categories">
        {(categories || []).map((c) => (
          <li key={c.id}><Link to={`/products?category=${c.id}`}>{c.name}</Link></li>
        ))}
      </ul>
    </section>
  );
}
