-- Seed data for the sample shop, generated in the server with generate_series (fast: SF 1 loads in well
-- under two minutes). Run with psql after 01-schema.sql and before 03-constraints.sql:
--
--     psql -v ON_ERROR_STOP=1 -v scale=1 -f 02-seed.sql
--
-- scale (the scale factor, default 1) multiplies every table but categories. At SF 1:
-- 50k customers, 20k products, 500k orders, 1.5M order items, 200k reviews. The data is deterministic
-- for a given scale (setseed), skewed the way shops are (a few products sell most), and spread over the
-- last three years so "newest first" and "last 30 days" mean something.
\if :{?scale}
\else
\set scale 1
\endif

SET synchronous_commit = off;
SELECT setseed(0.42);

CREATE TEMP TABLE seed_size AS
SELECT greatest(10, round(50000 * (:'scale')::numeric))::int   AS customers,
       greatest(10, round(20000 * (:'scale')::numeric))::int   AS products,
       greatest(10, round(500000 * (:'scale')::numeric))::int  AS orders,
       greatest(10, round(200000 * (:'scale')::numeric))::int  AS reviews,
       3                                                       AS items_per_order;

CREATE TEMP TABLE seed_words (kind text, words text[]);
INSERT INTO seed_words VALUES
  ('first', ARRAY['Ada','Grace','Alan','Edsger','Barbara','Donald','Frances','John','Margaret','Ken','Dennis',
                  'Radia','Leslie','Shafi','Tim','Vint','Sophie','Linus','Guido','Anita']),
  ('last',  ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Knuth','Allen','Backus','Hamilton',
                  'Thompson','Ritchie','Perlman','Lamport','Goldwasser','Berners-Lee','Cerf','Wilson',
                  'Torvalds','van Rossum','Borg']),
  ('adj',   ARRAY['Classic','Compact','Deluxe','Everyday','Folding','Handmade','Heavy-duty','Lightweight',
                  'Modern','Portable','Rustic','Smart','Sturdy','Vintage','Waterproof','Wireless','Ergonomic',
                  'Eco','Premium','Mini']),
  ('mat',   ARRAY['Oak','Bamboo','Steel','Copper','Linen','Wool','Leather','Glass','Ceramic','Walnut',
                  'Cotton','Marble','Aluminium','Cork','Canvas']),
  ('noun',  ARRAY['Chair','Lamp','Kettle','Backpack','Desk','Notebook','Teapot','Blanket','Shelf','Speaker',
                  'Clock','Mug','Bottle','Stool','Basket','Tray','Vase','Bench','Cutting Board','Pillow',
                  'Jacket','Scarf','Wallet','Headphones','Keyboard','Planter','Rug','Mirror','Toolbox','Bowl']),
  ('cat',   ARRAY['Furniture','Lighting','Kitchen','Bags','Office','Stationery','Tea','Bedding','Storage','Audio',
                  'Clocks','Drinkware','Outdoor','Garden','Decor','Bath','Clothing','Accessories','Computers',
                  'Tools','Toys','Books','Sports','Travel','Pets','Baby','Beauty','Health','Music','Art',
                  'Crafts','Camping','Cycling','Fitness','Gaming','Party','Seasonal','Lab','Workshop','Gifts']),
  ('title', ARRAY['Great value','Does the job','Disappointed','Exactly as described','Would buy again',
                  'Arrived late','Better than expected','Not for me','Solid build','Five stars']);

CREATE FUNCTION pg_temp.pick(kind text, i bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT words[1 + (i % array_length(words, 1))] FROM seed_words w WHERE w.kind = $1 $$;

INSERT INTO categories (id, name)
SELECT i, pg_temp.pick('cat', i - 1) FROM generate_series(1, 40) AS i;

INSERT INTO customers (id, email, name, created_at)
SELECT i,
       'customer' || i || '@example.test',
       pg_temp.pick('first', (random() * 1000)::bigint) || ' ' || pg_temp.pick('last', (random() * 1000)::bigint),
       now() - random() * interval '1095 days'
FROM generate_series(1, (SELECT customers FROM seed_size)) AS i;

INSERT INTO products (id, category_id, name, description, price_cents, stock, created_at)
SELECT i,
       1 + (random() * 39.999)::int % 40,
       pg_temp.pick('adj', a) || ' ' || pg_temp.pick('mat', m) || ' ' || pg_temp.pick('noun', n),
       'A ' || lower(pg_temp.pick('adj', a)) || ' ' || lower(pg_temp.pick('noun', n)) || ' made of '
           || lower(pg_temp.pick('mat', m)) || '. ' || repeat('Built to last, easy to clean, made to be used every day. ', 2),
       (199 + random() * 25000)::int,
       -- Plenty of stock: the checkout journey must not run out during a load test.
       1000000,
       now() - random() * interval '1095 days'
FROM (SELECT i, (random() * 1000)::bigint AS a, (random() * 1000)::bigint AS m, (random() * 1000)::bigint AS n
      FROM generate_series(1, (SELECT products FROM seed_size)) AS i) AS g;

-- Items first, so each order's total is computed from its items in one pass. Product popularity is
-- skewed (the square of a uniform variable): a few products sell most, which the top-products report shows.
INSERT INTO order_items (id, order_id, product_id, quantity, unit_price_cents)
SELECT g.i, g.order_id, g.product_id, g.quantity, p.price_cents
FROM (SELECT i,
             1 + (i - 1) / (SELECT items_per_order FROM seed_size) AS order_id,
             1 + floor((SELECT products FROM seed_size) * power(random(), 2))::bigint AS product_id,
             1 + (random() * 2.999)::int AS quantity
      FROM generate_series(1, (SELECT orders * items_per_order FROM seed_size)::bigint) AS i) AS g
JOIN products p ON p.id = g.product_id;

INSERT INTO orders (id, customer_id, status, total_cents, created_at)
SELECT t.order_id,
       1 + floor(random() * (SELECT customers FROM seed_size))::bigint,
       CASE WHEN random() < 0.9 THEN 'delivered' WHEN random() < 0.5 THEN 'shipped' ELSE 'cancelled' END,
       t.total_cents,
       now() - random() * interval '730 days'
FROM (SELECT order_id, sum(quantity * unit_price_cents)::bigint AS total_cents
      FROM order_items GROUP BY order_id) AS t;

INSERT INTO reviews (id, product_id, customer_id, rating, title, body, created_at)
SELECT i,
       1 + floor((SELECT products FROM seed_size) * power(random(), 2))::bigint,
       1 + floor(random() * (SELECT customers FROM seed_size))::bigint,
       1 + (random() * 4.999)::int % 5,
       pg_temp.pick('title', (random() * 1000)::bigint),
       'I used it for ' || (1 + (random() * 52)::int) || ' weeks. '
           || repeat('Works as described. ', 1 + (random() * 3)::int),
       now() - random() * interval '730 days'
FROM generate_series(1, (SELECT reviews FROM seed_size)) AS i;

DROP TABLE seed_size, seed_words;
