import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useFetch } from '../useFetch.js';

export default function Admin() {
  const { data, error } = useFetch('/reports/top-products?days=30&limit=10');
  return (
    <section>
      <h1>Best sellers, last 30 days</h1>
      {error && <p className="error">Could not load the report.</p>}
      <div style={{ width: '100%', height: 360 }}>
        <ResponsiveContainer>
          <BarChart data={data || []} margin={{ top: 10, right: 20, bottom: 60, left: 20 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="name" angle={-30} textAnchor="end" interval={0} height={80} />
            <YAxis />
            <Tooltip />
            <Bar dataKey="unitsSold" name="Units sold" fill="#2f6f4f" />
          </BarChart>
        </ResponsiveContainer>
      </div>
    </section>
  );
}
