import type { Migration } from '../../platform/index.js';

/**
 * The catalog's schema: titles (movies, series, episodes), the managed genre list and editors'
 * collections. pg_trgm is the one extension (trusted since Postgres 13, so a database owner may
 * create it; PGlite loads it from its contrib bundle). Ids continue control-api's one sequence
 * (migrate() applies them sorted by id).
 */
export const catalogMigrations: Migration[] = [
  {
    id: 'control_api_0012_catalog_titles',
    up: `
      CREATE EXTENSION IF NOT EXISTS pg_trgm;
      CREATE TABLE genres (
        slug text PRIMARY KEY CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO genres (slug, name) VALUES
        ('action', 'Action'), ('adventure', 'Adventure'), ('animation', 'Animation'), ('children', 'Children'),
        ('comedy', 'Comedy'), ('crime', 'Crime'), ('documentary', 'Documentary'), ('drama', 'Drama'),
        ('fantasy', 'Fantasy'), ('film-noir', 'Film-Noir'), ('horror', 'Horror'), ('musical', 'Musical'),
        ('mystery', 'Mystery'), ('romance', 'Romance'), ('sci-fi', 'Sci-Fi'), ('thriller', 'Thriller'),
        ('war', 'War'), ('western', 'Western');
      CREATE TABLE titles (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        type text NOT NULL CHECK (type IN ('movie', 'series', 'episode')),
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        genres text[] NOT NULL DEFAULT '{}',
        release_date date,
        release_year integer,
        maturity_rating text NOT NULL CHECK (maturity_rating IN ('G', 'PG', 'PG-13', 'R', 'NC-17')),
        -- MATURITY_RATINGS index of maturity_rating: a profile sees maturity_rank <= its ceiling's.
        maturity_rank smallint NOT NULL,
        languages text[] NOT NULL DEFAULT '{}',
        subtitle_languages text[] NOT NULL DEFAULT '{}',
        cast_names text[] NOT NULL DEFAULT '{}',
        tags text[] NOT NULL DEFAULT '{}',
        asset_id uuid REFERENCES assets (id) ON DELETE SET NULL,
        series_id uuid REFERENCES titles (id) ON DELETE CASCADE,
        season integer,
        episode integer,
        downloadable boolean NOT NULL DEFAULT false,
        required_plan text,
        status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
        published_at timestamptz,
        duration_seconds double precision,
        poster_url text,
        -- Views (play sessions) ever, for ranking search results and genre rows.
        popularity bigint NOT NULL DEFAULT 0,
        like_count integer NOT NULL DEFAULT 0 CHECK (like_count >= 0),
        rating_sum integer NOT NULL DEFAULT 0,
        rating_count integer NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
        search_vector tsvector,
        -- Name and cast as typed, for prefix (search-as-you-type) matching only.
        name_vector tsvector,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CHECK ((type = 'episode') = (series_id IS NOT NULL)),
        CHECK (type <> 'episode' OR (season IS NOT NULL AND episode IS NOT NULL)),
        CHECK (type <> 'series' OR asset_id IS NULL)
      );
      CREATE UNIQUE INDEX titles_episode_order_idx ON titles (series_id, season, episode) WHERE series_id IS NOT NULL;
      CREATE INDEX titles_account_idx ON titles (account_id, created_at DESC, id DESC);
      CREATE INDEX titles_published_idx ON titles (published_at DESC, id DESC) WHERE status = 'published';
      CREATE INDEX titles_popular_idx ON titles (popularity DESC, id) WHERE status = 'published';
      CREATE INDEX titles_genres_idx ON titles USING gin (genres);
      CREATE INDEX titles_languages_idx ON titles USING gin (languages);
      CREATE INDEX titles_search_idx ON titles USING gin (search_vector);
      CREATE INDEX titles_name_trgm_idx ON titles USING gin (name gin_trgm_ops);
      CREATE INDEX titles_name_vector_idx ON titles USING gin (name_vector);
      CREATE INDEX titles_asset_idx ON titles (asset_id) WHERE asset_id IS NOT NULL;

      -- Weighted search document: name (A, stemmed and as typed, so prefixes match whole words),
      -- cast (B), tags and genres (C), description (D). A trigger, because array_to_string is not
      -- immutable and so cannot feed a generated column.
      CREATE FUNCTION titles_search_document() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        NEW.search_vector :=
          setweight(to_tsvector('english', NEW.name), 'A') ||
          setweight(to_tsvector('simple', NEW.name), 'A') ||
          setweight(to_tsvector('simple', array_to_string(NEW.cast_names, ' ')), 'B') ||
          setweight(to_tsvector('english', array_to_string(NEW.tags, ' ') || ' ' || array_to_string(NEW.genres, ' ')), 'C') ||
          setweight(to_tsvector('english', NEW.description), 'D');
        NEW.name_vector := to_tsvector('simple', NEW.name || ' ' || array_to_string(NEW.cast_names, ' '));
        RETURN NEW;
      END
      $fn$;
      CREATE TRIGGER titles_search_document_trg BEFORE INSERT OR UPDATE OF name, description, cast_names, tags, genres
        ON titles FOR EACH ROW EXECUTE FUNCTION titles_search_document();

      CREATE TABLE collections (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        position integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE collection_items (
        collection_id uuid NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        title_id uuid NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
        position integer NOT NULL,
        PRIMARY KEY (collection_id, title_id)
      );
      CREATE INDEX collection_items_order_idx ON collection_items (collection_id, position);
    `,
  },
];
