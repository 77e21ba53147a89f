-- The first schema. Identifiers (project, key, breakpoint IDs...) use the
-- "C" collation: they compare and sort bytewise, as on the embedded store,
-- whatever the database's locale. Times are timestamptz (microseconds).
-- Nothing references projects: keys and breakpoints may name a project
-- before it is created, as on the embedded store.

CREATE TABLE projects (
	id         text COLLATE "C" PRIMARY KEY,
	name       text NOT NULL,
	created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
	project    text COLLATE "C" NOT NULL,
	id         text COLLATE "C" NOT NULL,
	name       text NOT NULL,
	scope      text NOT NULL,
	hash       text COLLATE "C" NOT NULL UNIQUE, -- SHA-256 of the secret
	prefix     text NOT NULL,
	created_at timestamptz NOT NULL,
	revoked_at timestamptz,
	PRIMARY KEY (project, id)
);

CREATE TABLE users (
	id            text COLLATE "C" PRIMARY KEY,
	email         text NOT NULL,
	-- email_key is the email trimmed and lower-cased by the server (Go's
	-- Unicode rules, whatever the database's locale): the sign-in name
	-- compared case-insensitively.
	email_key     text COLLATE "C" NOT NULL UNIQUE,
	password_hash text NOT NULL,
	admin         boolean NOT NULL,
	projects      text[] NOT NULL, -- memberships, in the order given
	created_at    timestamptz NOT NULL
);

CREATE TABLE sessions (
	hash       text COLLATE "C" PRIMARY KEY, -- SHA-256 of the cookie's token
	user_id    text NOT NULL,
	csrf       text NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- settings holds at most one row.
CREATE TABLE settings (
	singleton             boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	trace_retention_ns    bigint NOT NULL,
	snapshot_retention_ns bigint NOT NULL,
	updated_at            timestamptz NOT NULL
);

CREATE TABLE breakpoints (
	project           text COLLATE "C" NOT NULL,
	id                text COLLATE "C" NOT NULL,
	service           text COLLATE "C" NOT NULL,
	type              text NOT NULL,
	file              text NOT NULL,
	line              integer NOT NULL,
	capture_point     text NOT NULL,
	condition         text NOT NULL,
	message           text NOT NULL,
	capture_depth     integer NOT NULL,
	rate_limit        integer NOT NULL,
	max_string_length integer NOT NULL,
	environment       text NOT NULL,
	expires_at        timestamptz NOT NULL,
	paused            boolean NOT NULL,
	created_at        timestamptz NOT NULL,
	updated_at        timestamptz NOT NULL,
	-- The hit counters are the store's: only AdmitHits writes them, and
	-- replacing a breakpoint keeps them.
	hits              bigint NOT NULL DEFAULT 0,
	last_hit_at       timestamptz,
	PRIMARY KEY (project, id)
);
CREATE INDEX breakpoints_by_service ON breakpoints (project, service, created_at, id);

-- hit_windows counts a breakpoint's admitted hits in its current calendar
-- minute (UTC), for the rate limit that every server shares. admitted is
-- what the last AdmitHits added, returned to it.
CREATE TABLE hit_windows (
	project       text COLLATE "C" NOT NULL,
	breakpoint_id text COLLATE "C" NOT NULL,
	minute        timestamptz NOT NULL,
	count         bigint NOT NULL,
	admitted      bigint NOT NULL,
	PRIMARY KEY (project, breakpoint_id),
	FOREIGN KEY (project, breakpoint_id) REFERENCES breakpoints (project, id) ON DELETE CASCADE
);

CREATE TABLE kill_switches (
	project    text COLLATE "C" NOT NULL,
	service    text COLLATE "C" NOT NULL,
	enabled    boolean NOT NULL,
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (project, service)
);

CREATE TABLE capture_points (
	project    text COLLATE "C" NOT NULL,
	service    text COLLATE "C" NOT NULL,
	name       text COLLATE "C" NOT NULL,
	file       text COLLATE "C" NOT NULL,
	line       integer NOT NULL,
	function   text NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	PRIMARY KEY (project, service, name, file, line)
);

-- Every change of a breakpoint or a kill switch, made by any server or by
-- hand, notifies channel tracekit_breakpoints with the JSON payload
-- {"project": ..., "service": ...}; PostgreSQL delivers it when the
-- transaction commits. A payload too long for NOTIFY (8000 bytes) drops
-- the service, then the project too: an empty name means "any".
CREATE FUNCTION tracekit_notify_breakpoints(project text, service text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	payload text := json_build_object('project', project, 'service', service)::text;
BEGIN
	IF octet_length(payload) > 7900 THEN
		payload := json_build_object('project', project, 'service', '')::text;
	END IF;
	IF octet_length(payload) > 7900 THEN
		payload := json_build_object('project', '', 'service', '')::text;
	END IF;
	PERFORM pg_notify('tracekit_breakpoints', payload);
END
$$;

CREATE FUNCTION tracekit_breakpoints_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	-- A breakpoint moved to another service changes both services' sets.
	IF TG_OP <> 'INSERT' THEN
		PERFORM tracekit_notify_breakpoints(OLD.project, OLD.service);
	END IF;
	IF TG_OP <> 'DELETE' THEN
		PERFORM tracekit_notify_breakpoints(NEW.project, NEW.service);
	END IF;
	RETURN NULL;
END
$$;

-- Hit counts are no change an SDK needs: an UPDATE that sets only hits and
-- last_hit_at (AdmitHits) does not fire.
CREATE TRIGGER breakpoints_changed
	AFTER INSERT OR DELETE OR UPDATE OF project, id, service, type, file, line, capture_point, condition, message,
		capture_depth, rate_limit, max_string_length, environment, expires_at, paused, created_at, updated_at
	ON breakpoints FOR EACH ROW EXECUTE FUNCTION tracekit_breakpoints_changed();

CREATE TRIGGER kill_switches_changed
	AFTER INSERT OR DELETE OR UPDATE ON kill_switches
	FOR EACH ROW EXECUTE FUNCTION tracekit_breakpoints_changed();
