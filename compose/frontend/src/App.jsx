import { lazy, Suspense } from 'react';
import { NavLink, Route, Routes } from 'react-router';
import Home from './pages/Home.jsx';
import Products from './pages/Products.jsx';
import Product from './pages/Product.jsx';
import Cart from './pages/Cart.jsx';
// Planted problem: Admin (and recharts with it) is imported statically, so every visitor downloads the
// chart library in the entry chunk. The fix is the same React.lazy as Orders below.
import Admin from './pages/Admin.jsx';

const Orders = lazy(() => import('./pages/Orders.jsx'));

export default function App() {
  return (
    <>
      <header>
        <strong>Sample shop</strong>
        <nav>
          <NavLink to="/" end>Home</NavLink>
          <NavLink to="/products">Products</NavLink>
          <NavLink to="/cart">Cart</NavLink>
          <NavLink to="/orders">Orders</NavLink>
          <NavLink to="/admin">Admin</NavLink>
        </nav>
      </header>
      <main>
        <Suspense fallback={<p>Loading…</p>}>
          <Routes>
            <Route path="/" element={<Home />} />
            <Route path="/products" element={<Products />} />
            <Route path="/products/:id" element={<Product />} />
            <Route path="/cart" element={<Cart />} />
            <Route path="/orders" element={<Orders />} />
            <Route path="/admin" element={<Admin />} />
            <Route path="*" element={<p>Not found.</p>} />
          </Routes>
        </Suspense>
      </main>
    </>
  );
}
