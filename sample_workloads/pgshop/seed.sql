-- Seed pgshop. psql-style variable :scale is substituted by seed.py (1.0 → 1.2M order items).
INSERT INTO customers (email, name, country, created_at)
SELECT 'user' || g || '@example.' || (ARRAY['com','org','net'])[1 + g % 3],
       'Customer ' || g, (ARRAY['DE','FR','US','GB','ES','IT','NL','PL'])[1 + g % 8],
       timestamptz '2023-01-01' + (g % 700) * interval '1 day'
FROM generate_series(1::bigint, (50000 * :scale)::int) g;

INSERT INTO products (sku, name, category_id, price_cents, created_at)
SELECT 'SKU-' || lpad(g::text, 8, '0'), 'Product ' || g, 1 + (g * 7919) % 200, 100 + (g * 37) % 20000,
       timestamptz '2022-01-01' + ((g * 131) % 1000) * interval '1 day'
FROM generate_series(1::bigint, (50000 * :scale)::int) g;

INSERT INTO orders (customer_id, status, channel, total_cents, created_at)
SELECT 1 + (g * 7841) % (50000 * :scale)::int,
       (ARRAY['paid','shipped','delivered','cancelled'])[1 + g % 4],
       (ARRAY['web','app','phone'])[1 + g % 3],
       500 + (g * 53) % 50000,
       timestamptz '2023-01-01' + (g % 1000) * interval '1 day' + (g % 86400) * interval '1 second'
FROM generate_series(1::bigint, (400000 * :scale)::int) g;

INSERT INTO order_items (order_id, product_id, quantity, price_cents)
SELECT 1 + (g - 1) / 3, 1 + (g * 104729) % (50000 * :scale)::int, 1 + g % 4, 100 + (g * 17) % 20000
FROM generate_series(1::bigint, (1200000 * :scale)::int) g;

ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE order_items ADD CONSTRAINT order_items_order_fk FOREIGN KEY (order_id) REFERENCES orders (id);
ALTER TABLE order_items ADD CONSTRAINT order_items_product_fk FOREIGN KEY (product_id) REFERENCES products (id);
ANALYZE;
