-- Generated sample rows for testdata/pagila-schema.sql (the schema ships without rows).
-- Deterministic: the same rows on every load, so two loads fingerprint the same.
-- Used by `make demo` and the round-trip tests.
SET search_path = public;

INSERT INTO language (language_id, name, last_update)
SELECT i, (ARRAY['English','Italiano','日本語','Mandarin','Français','Deutsch'])[i], timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, 6) i;

INSERT INTO category (category_id, name, last_update)
SELECT i, 'Category ' || i || ' ✓', timestamptz '2022-01-01 00:00+00' FROM generate_series(1, 16) i;

INSERT INTO country (country_id, country, last_update)
SELECT i, 'Country ' || i || CASE WHEN i % 5 = 0 THEN ' — Ünïcödé' ELSE '' END, timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, 40) i;

INSERT INTO city (city_id, city, country_id, last_update)
SELECT i, 'City ' || i, 1 + i % 40, timestamptz '2022-01-01 00:00+00' FROM generate_series(1, 200) i;

INSERT INTO address (address_id, address, address2, district, city_id, postal_code, phone, last_update)
SELECT i, i || ' Main Street', CASE WHEN i % 3 = 0 THEN NULL ELSE 'Apt. ' || i END, 'District ' || (i % 17),
       1 + i % 200, lpad((i * 7919 % 100000)::text, 5, '0'), '+1-555-' || lpad(i::text, 4, '0'), timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, 600) i;

INSERT INTO store (store_id, manager_staff_id, address_id, last_update)
VALUES (1, 1, 1, '2022-01-01 00:00+00'), (2, 2, 2, '2022-01-01 00:00+00');

INSERT INTO staff (staff_id, first_name, last_name, address_id, email, store_id, active, username, password, last_update, picture)
VALUES (1, 'Mike', 'Hillyer', 3, 'mike@example.com', 1, true, 'mike', NULL, '2022-01-01 00:00+00', '\x89504e470d0a1a0a'::bytea),
       (2, 'Jon', 'Stephens', 4, 'jon@example.com', 2, true, 'jon', NULL, '2022-01-01 00:00+00', NULL);

INSERT INTO customer (customer_id, store_id, first_name, last_name, email, address_id, activebool, create_date, last_update, active)
SELECT i, 1 + i % 2, 'First' || i, 'Last' || i || CASE WHEN i % 11 = 0 THEN ' O''Brien' ELSE '' END,
       'customer' || i || '@example.com', 5 + i % 595, i % 13 <> 0, date '2022-01-01' + i % 300, timestamptz '2022-01-01 00:00+00', i % 2
FROM generate_series(1, 500) i;

INSERT INTO actor (actor_id, first_name, last_name, last_update)
SELECT i, 'Actor' || i, 'Surname' || i, timestamptz '2022-01-01 00:00+00' FROM generate_series(1, 150) i;

INSERT INTO film (film_id, title, description, release_year, language_id, original_language_id, rental_duration,
                  rental_rate, length, replacement_cost, rating, last_update, special_features, fulltext)
SELECT i, 'Film ' || i, 'A ' || (ARRAY['thrilling','dull','epic','quiet'])[1 + i % 4] || ' story of number ' || i,
       1990 + i % 30, 1 + i % 6, CASE WHEN i % 4 = 0 THEN 1 + (i + 1) % 6 END, 3 + i % 5,
       (0.99 + (i % 5))::numeric(4,2), 60 + i % 120, (9.99 + (i % 20))::numeric(5,2),
       (ARRAY['G','PG','PG-13','R','NC-17'])[1 + i % 5]::mpaa_rating, timestamptz '2022-01-01 00:00+00',
       CASE i % 3 WHEN 0 THEN ARRAY['Trailers'] WHEN 1 THEN ARRAY['Commentaries', 'Deleted Scenes'] ELSE ARRAY['Behind the Scenes'] END,
       ''::tsvector
FROM generate_series(1, 300) i;

INSERT INTO film_actor (actor_id, film_id, last_update)
SELECT DISTINCT 1 + (f * 7 + k * 13) % 150, f, timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, 300) f, generate_series(1, 4) k;

INSERT INTO film_category (film_id, category_id, last_update)
SELECT f, 1 + f % 16, timestamptz '2022-01-01 00:00+00' FROM generate_series(1, 300) f;

INSERT INTO inventory (inventory_id, film_id, store_id, last_update)
SELECT i, 1 + i % 300, 1 + i % 2, timestamptz '2022-01-01 00:00+00' FROM generate_series(1, 1200) i;

INSERT INTO rental (rental_id, rental_date, inventory_id, customer_id, return_date, staff_id, last_update)
SELECT i, timestamptz '2022-01-01 10:00+00' + i * interval '73 minutes', 1 + i % 1200, 1 + i % 500,
       CASE WHEN i % 9 = 0 THEN NULL ELSE timestamptz '2022-01-03 10:00+00' + i * interval '73 minutes' END,
       1 + i % 2, timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, 4000) i;

INSERT INTO payment (payment_id, customer_id, staff_id, rental_id, amount, payment_date)
SELECT i, 1 + i % 500, 1 + i % 2, i, (0.99 + (i % 10))::numeric(5,2),
       timestamptz '2022-01-01 10:05+00' + i * interval '73 minutes'
FROM generate_series(1, 4000) i;

SELECT setval('language_language_id_seq', 6), setval('category_category_id_seq', 16),
       setval('country_country_id_seq', 40), setval('city_city_id_seq', 200),
       setval('address_address_id_seq', 600), setval('store_store_id_seq', 2),
       setval('staff_staff_id_seq', 2), setval('customer_customer_id_seq', 500),
       setval('actor_actor_id_seq', 150), setval('film_film_id_seq', 300),
       setval('inventory_inventory_id_seq', 1200), setval('rental_rental_id_seq', 4000),
       setval('payment_payment_id_seq', 4000);

REFRESH MATERIALIZED VIEW rental_by_category;
