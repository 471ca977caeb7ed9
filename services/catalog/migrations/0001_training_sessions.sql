-- The training session catalog and its free-text search (the outbox: services/common/migrations).

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE TABLE training_sessions (
    id                uuid PRIMARY KEY,
    title             text NOT NULL CHECK (title <> ''),
    topic             text NOT NULL DEFAULT '',
    description       text NOT NULL DEFAULT '',
    features          text[] NOT NULL DEFAULT '{}',
    level             text NOT NULL CHECK (level IN ('beginner', 'intermediate', 'advanced')),
    target_roles      text[] NOT NULL DEFAULT '{}',
    format            text NOT NULL CHECK (format IN ('live_webinar', 'in_person', 'on_demand')),
    start_time        timestamptz NOT NULL,
    time_zone         text NOT NULL,
    duration_minutes  integer NOT NULL CHECK (duration_minutes > 0),
    capacity          integer NOT NULL DEFAULT 0 CHECK (capacity >= 0),
    join_url          text NOT NULL DEFAULT '',
    registration_url  text NOT NULL DEFAULT '',
    presenter         text NOT NULL DEFAULT '',
    state             text NOT NULL DEFAULT 'scheduled'
                      CHECK (state IN ('scheduled', 'cancelled', 'completed')),
    learning_outcomes jsonb NOT NULL DEFAULT '[]',
    -- A retried create with the same request id returns the first session.
    request_id        text UNIQUE,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- Weighted text for search: title and topic first, then features, then the description.
    search_document   tsvector NOT NULL DEFAULT ''::tsvector,
    -- Title and topic for trigram matching of typos.
    search_title      text NOT NULL DEFAULT ''
);

CREATE FUNCTION training_sessions_search_fields() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_title := lower(NEW.title || ' ' || NEW.topic);
    NEW.search_document :=
        setweight(to_tsvector('english', NEW.title || ' ' || NEW.topic), 'A')
        || setweight(to_tsvector('english', replace(array_to_string(NEW.features, ' '), '_', ' ')), 'B')
        || setweight(to_tsvector('english', NEW.description), 'C');
    RETURN NEW;
END
$$;

CREATE TRIGGER training_sessions_search_fields
    BEFORE INSERT OR UPDATE ON training_sessions
    FOR EACH ROW EXECUTE FUNCTION training_sessions_search_fields();

CREATE INDEX training_sessions_by_start ON training_sessions (start_time, id);
CREATE INDEX training_sessions_search ON training_sessions USING gin (search_document);
CREATE INDEX training_sessions_trigram ON training_sessions USING gin (search_title public.gin_trgm_ops);

