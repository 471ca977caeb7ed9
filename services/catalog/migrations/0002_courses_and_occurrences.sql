-- A course (what is taught) has scheduled occurrences (when and where). Sessions of the first
-- migration become one course per title with their occurrences.
-- depends: 0001_training_sessions

CREATE TABLE courses (
    id                uuid PRIMARY KEY,
    title             text NOT NULL CHECK (title <> ''),
    topic             text NOT NULL DEFAULT '',
    description       text NOT NULL DEFAULT '',
    features          text[] NOT NULL DEFAULT '{}',
    level             text NOT NULL CHECK (level IN ('beginner', 'intermediate', 'advanced')),
    target_roles      text[] NOT NULL DEFAULT '{}',
    format            text NOT NULL CHECK (format IN ('live_webinar', 'in_person', 'on_demand')),
    duration_minutes  integer NOT NULL CHECK (duration_minutes > 0),
    learning_outcomes jsonb NOT NULL DEFAULT '[]',
    state             text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'cancelled')),
    request_id        text UNIQUE,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- Weighted words for search: title and topic, then features, then the description.
    search_document   tsvector NOT NULL DEFAULT ''::tsvector,
    -- Title and topic for trigram matching of typos.
    search_title      text NOT NULL DEFAULT ''
);

CREATE FUNCTION courses_search_fields() RETURNS trigger
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

CREATE TRIGGER courses_search_fields
    BEFORE INSERT OR UPDATE OF title, topic, features, description ON courses
    FOR EACH ROW EXECUTE FUNCTION courses_search_fields();

CREATE INDEX courses_search ON courses USING gin (search_document);
CREATE INDEX courses_trigram ON courses USING gin (search_title public.gin_trgm_ops);
CREATE INDEX courses_features ON courses USING gin (features);
CREATE INDEX courses_by_title ON courses (lower(title), id);

CREATE TABLE occurrences (
    id               uuid PRIMARY KEY,
    course_id        uuid NOT NULL REFERENCES courses (id),
    start_time       timestamptz NOT NULL,
    time_zone        text NOT NULL,
    capacity         integer NOT NULL DEFAULT 0 CHECK (capacity >= 0),
    join_url         text NOT NULL DEFAULT '',
    registration_url text NOT NULL DEFAULT '',
    presenter        text NOT NULL DEFAULT '',
    state            text NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'cancelled')),
    cancel_reason    text NOT NULL DEFAULT '',
    -- Registered people, kept by the registration consumer.
    seats_taken      integer NOT NULL DEFAULT 0 CHECK (seats_taken >= 0),
    request_id       text UNIQUE,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX occurrences_by_start ON occurrences (start_time, id);
CREATE INDEX occurrences_by_course ON occurrences (course_id, start_time);

-- Who holds a seat, per occurrence; registration events are applied to it idempotently.
CREATE TABLE registrations (
    occurrence_id uuid NOT NULL REFERENCES occurrences (id),
    email         text NOT NULL CHECK (email = lower(email)),
    state         text NOT NULL CHECK (state IN ('registered', 'attended', 'no_show', 'cancelled')),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (occurrence_id, email)
);


INSERT INTO courses (id, title, topic, description, features, level, target_roles, format,
                     duration_minutes, learning_outcomes, created_at, updated_at)
SELECT DISTINCT ON (title) id, title, topic, description, features, level, target_roles, format,
       duration_minutes, learning_outcomes, created_at, updated_at
FROM training_sessions
ORDER BY title, created_at;

INSERT INTO occurrences (id, course_id, start_time, time_zone, capacity, join_url,
                         registration_url, presenter, state, request_id, version, created_at,
                         updated_at)
SELECT s.id, c.id, s.start_time, s.time_zone, s.capacity, s.join_url, s.registration_url,
       s.presenter, CASE WHEN s.state = 'cancelled' THEN 'cancelled' ELSE 'scheduled' END,
       s.request_id, s.version, s.created_at, s.updated_at
FROM training_sessions s JOIN courses c ON c.title = s.title;

DROP TABLE training_sessions;
DROP FUNCTION training_sessions_search_fields();
