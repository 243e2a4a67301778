-- What the platform established by looking (a drone's verification), kept apart from
-- ``overrides`` (what a person set) so the API and dashboard can tell the two apart.
-- Re-triage keeps both over its own output; a person's override wins over either.
ALTER TABLE tickets ADD COLUMN established jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Verifications made before this column existed were written into ``overrides``: move them.
UPDATE tickets
SET established = jsonb_strip_nulls(jsonb_build_object('certainty', overrides -> 'certainty',
                                                       'verification', overrides -> 'verification')),
    overrides = overrides - 'certainty' - 'verification'
WHERE overrides ?| array['certainty', 'verification'];
