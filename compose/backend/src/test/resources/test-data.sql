INSERT INTO categories VALUES (1, 'Books'), (2, 'Garden');
INSERT INTO customers VALUES (1, 'ada@example.test', 'Ada', TIMESTAMP WITH TIME ZONE '2025-01-01 00:00:00+00'),
                             (2, 'bob@example.test', 'Bob', TIMESTAMP WITH TIME ZONE '2025-01-02 00:00:00+00');
INSERT INTO products VALUES
  (1, 1, 'Old Atlas', 'A book', 1500, 10, TIMESTAMP WITH TIME ZONE '2025-01-01 00:00:00+00'),
  (2, 1, 'New Atlas', 'A newer book', 2500, 5, TIMESTAMP WITH TIME ZONE '2025-03-01 00:00:00+00'),
  (3, 1, '100% Cotton Bookmark', 'Not a wildcard', 300, 100, TIMESTAMP WITH TIME ZONE '2025-02-01 00:00:00+00'),
  (4, 2, 'Garden Hose', 'Green', 4000, 1, TIMESTAMP WITH TIME ZONE '2025-02-15 00:00:00+00');
INSERT INTO reviews VALUES
  (1, 1, 2, 4, 'Good', 'Solid atlas', TIMESTAMP WITH TIME ZONE '2025-04-01 00:00:00+00'),
  (2, 1, 1, 2, 'Dated', 'Borders moved', TIMESTAMP WITH TIME ZONE '2025-05-01 00:00:00+00');
