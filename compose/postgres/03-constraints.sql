-- Foreign keys, after the seed. Note what is NOT created: an index on reviews(product_id) (a foreign key
-- without an index), on orders(customer_id), on products(category_id, created_at), and a trigram index on
-- products.name. Those are the planted database problems. order_items(order_id) is indexed so that the
-- N+1 in the order history costs round trips, not scans.
ALTER TABLE products    ADD CONSTRAINT products_category_fk    FOREIGN KEY (category_id) REFERENCES categories (id);
ALTER TABLE orders      ADD CONSTRAINT orders_customer_fk      FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE order_items ADD CONSTRAINT order_items_order_fk    FOREIGN KEY (order_id)    REFERENCES orders (id);
ALTER TABLE order_items ADD CONSTRAINT order_items_product_fk  FOREIGN KEY (product_id)  REFERENCES products (id);
ALTER TABLE reviews     ADD CONSTRAINT reviews_product_fk      FOREIGN KEY (product_id)  REFERENCES products (id);
ALTER TABLE reviews     ADD CONSTRAINT reviews_customer_fk     FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE invoices    ADD CONSTRAINT invoices_order_fk       FOREIGN KEY (order_id)    REFERENCES orders (id);
ALTER TABLE product_stats ADD CONSTRAINT product_stats_product_fk FOREIGN KEY (product_id) REFERENCES products (id);

CREATE INDEX order_items_order_id_idx ON order_items (order_id);

SELECT setval(pg_get_serial_sequence('categories', 'id'), (SELECT max(id) FROM categories));
SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers));
SELECT setval(pg_get_serial_sequence('products', 'id'), (SELECT max(id) FROM products));
SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders));
SELECT setval(pg_get_serial_sequence('order_items', 'id'), (SELECT max(id) FROM order_items));
SELECT setval(pg_get_serial_sequence('reviews', 'id'), (SELECT max(id) FROM reviews));

VACUUM ANALYZE;
