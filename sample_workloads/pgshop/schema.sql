-- pgshop: a small shop with planted index problems (see README.md in this folder).
CREATE TABLE customers (
    id          bigserial PRIMARY KEY,
    email       text NOT NULL,
    name        text NOT NULL,
    country     text NOT NULL,
    created_at  timestamptz NOT NULL
);
-- Planted: two identical indexes (PG003), neither used by the workload.
CREATE INDEX customers_country_idx ON customers (country);
CREATE INDEX customers_country_idx2 ON customers (country);

CREATE TABLE products (
    id           bigserial PRIMARY KEY,
    sku          text NOT NULL UNIQUE,          -- serves the lookup by sku: no recommendation expected
    name         text NOT NULL,
    category_id  int NOT NULL,
    price_cents  int NOT NULL,
    created_at   timestamptz NOT NULL
);
-- Planted: an index no statement uses (PG005).
CREATE INDEX products_price_idx ON products (price_cents);

CREATE TABLE orders (
    id           bigserial PRIMARY KEY,
    customer_id  bigint NOT NULL,               -- planted: no index for "orders of a customer"
    status       text NOT NULL,
    channel      text NOT NULL,                 -- 3 values: an index would not help
    total_cents  int NOT NULL,
    created_at   timestamptz NOT NULL
);
-- Planted: orders_status_idx is superseded by orders_status_created_idx (PG004); the wider one is unused (PG005).
CREATE INDEX orders_status_idx ON orders (status);
CREATE INDEX orders_status_created_idx ON orders (status, created_at);

CREATE TABLE order_items (
    id           bigserial PRIMARY KEY,
    order_id     bigint NOT NULL,               -- planted: foreign key without an index
    product_id   bigint NOT NULL,
    quantity     int NOT NULL,
    price_cents  int NOT NULL
);

-- Planted: a table whose primary key is never scanned; it must not be proposed for dropping.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    event       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
