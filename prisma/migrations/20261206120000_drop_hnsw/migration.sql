-- Serving searches the catalogue in process (an exhaustive scan, or an IVF index above
-- 20,000 tracks): the pgvector HNSW indexes that import, demo-data and embed-tracks used to
-- build were read by nothing and slowed every write to track. Drop any a store still has.
-- (One line: the migration runner splits statements at a semicolon that ends a line.)
DO $$ DECLARE r record; BEGIN FOR r IN SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'track' AND indexname LIKE 'track\_embedding\_hnsw\_%' LOOP EXECUTE format('DROP INDEX IF EXISTS %I', r.indexname); END LOOP; END $$;
